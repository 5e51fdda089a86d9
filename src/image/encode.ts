/** Encoding RgbImages with sharp, choosing the format from the output path, and atomic file writes. */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import sharp from 'sharp';
import type { RgbImage } from '../engine/types.js';
import { NstError } from '../errors.js';
import { OUTPUT_EXTENSIONS, type OutputFormat, outputFormatForExtension } from './formats.js';

/** The output format written for a file name's extension, or undefined when no encoder writes it. */
export const outputFormatForName = (name: string): OutputFormat | undefined =>
  outputFormatForExtension(extname(name));

/** Quality for the lossy formats (JPEG, WebP, AVIF): high, as results are artwork. */
const DEFAULT_QUALITY = 92;

export interface EncodeOptions {
  readonly format: OutputFormat;
  /** 1..100, lossy formats only (default DEFAULT_QUALITY). */
  readonly quality?: number;
  /** 0..255, width * height values; attached for PNG, WebP, AVIF and TIFF, ignored for JPEG. */
  readonly alpha?: Float32Array;
}

/** The output format for a path's extension (case-insensitive). */
export function outputFormatFromPath(path: string): OutputFormat {
  const ext = extname(path).toLowerCase();
  const format = outputFormatForExtension(ext);
  if (format) return format;
  throw new NstError(
    'OUTPUT_FORMAT_UNSUPPORTED',
    `cannot write ${path}: ${ext ? `extension ${ext} is not supported` : 'no file extension'}; use one of ${OUTPUT_EXTENSIONS.join(', ')}`,
  );
}

/** Rounds and clamps to 8-bit (Uint8ClampedArray does both; NaN becomes 0). */
export function toUint8(image: RgbImage): Uint8Array {
  return new Uint8Array(Uint8ClampedArray.from(image.data).buffer);
}

function interleaveAlpha(rgb: Uint8Array, alpha: Float32Array): Uint8Array {
  const a = Uint8ClampedArray.from(alpha);
  const rgba = new Uint8Array(a.length * 4);
  for (let p = 0; p < a.length; p++) {
    rgba[p * 4] = rgb[p * 3];
    rgba[p * 4 + 1] = rgb[p * 3 + 1];
    rgba[p * 4 + 2] = rgb[p * 3 + 2];
    rgba[p * 4 + 3] = a[p];
  }
  return rgba;
}

function checkQuality(quality: number): number {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new NstError('INVALID_OPTION', `quality must be an integer from 1 to 100, got ${quality}`);
  }
  return quality;
}

export async function encodeImage(image: RgbImage, opts: EncodeOptions): Promise<Buffer> {
  const { width, height } = image;
  if (image.data.length !== width * height * 3) {
    throw new RangeError(`image data has ${image.data.length} values, expected ${width * height * 3}`);
  }
  const quality = checkQuality(opts.quality ?? DEFAULT_QUALITY);
  const alpha = opts.format === 'jpeg' ? undefined : opts.alpha;
  if (alpha && alpha.length !== width * height) {
    throw new RangeError(`alpha has ${alpha.length} values, expected ${width * height}`);
  }
  const rgb = toUint8(image);
  const pixels = alpha ? interleaveAlpha(rgb, alpha) : rgb;
  const input = sharp(pixels, { raw: { width, height, channels: alpha ? 4 : 3 } });
  switch (opts.format) {
    case 'jpeg':
      return input.jpeg({ quality }).toBuffer();
    case 'png':
      return input.png().toBuffer();
    case 'webp':
      return input.webp({ quality }).toBuffer();
    case 'avif':
      return input.avif({ quality }).toBuffer();
    case 'tiff':
      return input.tiff({ compression: 'lzw' }).toBuffer();
  }
}

/**
 * Writes a temp file beside `path`, flushes it, then renames it over `path`: readers see the old
 * file or the whole new one, never a partial write. Creates missing parent directories.
 */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  try {
    await writeFile(temp, data, { flag: 'wx', flush: true });
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}
