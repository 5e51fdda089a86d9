/**
 * Decoding untrusted images into the engine's RgbImage (HWC float32, 0..255, sRGB) with sharp.
 *
 * Every input goes through the same checks, in this order, so a bad file fails fast and says why:
 * read the bytes (missing / empty), read the header only (not an image / unsupported format / pixel
 * limit, aspect ratio), then decode the pixels (truncated or damaged data). The pixel limit and the aspect
 * ratio are checked from the header before any pixel is decoded: a small PNG can claim gigapixels
 * (decompression bomb), or a shape (20000x2) that the engine's resampling would blow up.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { checkAspectRatio } from '../engine/input-limits.js';
import type { RgbImage } from '../engine/types.js';
import { NstError } from '../errors.js';
import { INPUT_FORMAT_NAMES, INPUT_FORMATS_TEXT } from './formats.js';

/** 40 megapixels: larger than any phone photo, and a safe ceiling for memory in a 10 GB Lambda. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

export type ImageInput = string | Buffer | Uint8Array;

/**
 * 'error' aborts on truncated or damaged pixel data but tolerates benign warnings (sharp's default,
 * 'warning', also rejects many real-world files with harmless quirks).
 */
const FAIL_ON = 'error' as const;

export interface ImageMetadata {
  /** Width and height after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** 'jpeg' | 'png' | 'webp' | 'avif' | 'tiff' | 'gif'. */
  readonly format: string;
}

export interface DecodeOptions {
  /** Name for error messages when the input is a buffer (default "input"; a path names itself). */
  readonly name?: string;
  /** Largest width * height accepted (default DEFAULT_MAX_PIXELS). */
  readonly maxPixels?: number;
  /** 'flatten' (default) composites transparency onto `background`; 'keep' returns it separately. */
  readonly alpha?: 'flatten' | 'keep';
  /** Any CSS colour; default white. */
  readonly background?: string;
}

export interface DecodedImage extends ImageMetadata {
  readonly image: RgbImage;
  /** 0..255, width * height values; only with alpha: 'keep' and an input that has alpha. */
  readonly alpha?: Float32Array;
}

interface Source {
  readonly bytes: Buffer;
  /** How messages name the input: its path, the caller's name, or "input". */
  readonly label: string;
}

async function readSource(input: ImageInput, name?: string): Promise<Source> {
  if (typeof input !== 'string') {
    const label = name ?? 'input';
    if (input.length === 0)
      throw new NstError('IMAGE_EMPTY', `${label} is empty (0 bytes): expected an image`);
    return {
      bytes: Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length),
      label,
    };
  }
  const label = name ?? input;
  let bytes: Buffer;
  try {
    bytes = await readFile(input);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR')
      throw new NstError('IMAGE_UNSUPPORTED', `${label} is a directory, not an image file`, { cause: e });
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(e)})`;
    throw new NstError('IMAGE_NOT_FOUND', `image file ${label} ${why}`, { cause: e });
  }
  if (bytes.length === 0) throw new NstError('IMAGE_EMPTY', `image file ${label} is empty (0 bytes)`);
  return { bytes, label };
}

/** Reads the header only and checks the format is one we accept. */
async function readHeader({ bytes, label }: Source): Promise<ImageMetadata> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: FAIL_ON }).metadata();
  } catch (e) {
    const message = (e as Error).message;
    if (/unsupported image format/i.test(message)) {
      throw new NstError(
        'IMAGE_UNSUPPORTED',
        `${label} is not a supported image: expected ${INPUT_FORMATS_TEXT}`,
        { cause: e },
      );
    }
    throw new NstError('IMAGE_CORRUPT', `${label} has a damaged image header (${message.trim()})`, {
      cause: e,
    });
  }
  const format = INPUT_FORMAT_NAMES[meta.format ?? ''];
  // HEIF with HEVC (HEIC) is not decodable by the prebuilt libvips; only its AV1 flavour (AVIF) is.
  if (!format || (meta.format === 'heif' && meta.compression !== 'av1')) {
    const found =
      meta.format === 'heif' ? `HEIF/${meta.compression ?? 'unknown'}` : (meta.format ?? 'unknown');
    throw new NstError(
      'IMAGE_UNSUPPORTED',
      `${label} is ${found}, which is not supported: use ${INPUT_FORMATS_TEXT}`,
    );
  }
  return { width: meta.autoOrient.width, height: meta.autoOrient.height, format };
}

function checkPixelLimit(label: string, { width, height }: ImageMetadata, maxPixels: number): void {
  if (width * height <= maxPixels) return;
  const mp = (n: number) => `${(n / 1e6).toFixed(1)} megapixels`;
  throw new NstError(
    'IMAGE_TOO_LARGE',
    `${label} is ${width}x${height} (${mp(width * height)}), over the limit of ${mp(maxPixels)}: downscale it first`,
  );
}

/** Width, height (after EXIF orientation) and format from the header, without decoding pixels. */
export async function readImageMetadata(
  input: ImageInput,
  opts: { name?: string } = {},
): Promise<ImageMetadata> {
  return readHeader(await readSource(input, opts.name));
}

/**
 * Decodes an image to 8-bit sRGB as floats: EXIF orientation applied, the first frame of animations,
 * greyscale / CMYK / 16-bit / ICC-tagged inputs converted to sRGB by sharp.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const source = await readSource(input, opts.name);
  const header = await readHeader(source);
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  checkPixelLimit(source.label, header, maxPixels);
  checkAspectRatio(source.label, header);

  let pipeline = sharp(source.bytes, {
    failOn: FAIL_ON,
    limitInputPixels: maxPixels,
    autoOrient: true,
    pages: 1,
  });
  if (opts.alpha !== 'keep') {
    try {
      pipeline = pipeline.flatten({ background: opts.background ?? '#ffffff' });
    } catch (e) {
      throw new NstError('INVALID_OPTION', `background "${opts.background}" is not a colour`, { cause: e });
    }
  }
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    const message = (e as Error).message.trim();
    const code = /pixel limit/i.test(message) ? 'IMAGE_TOO_LARGE' : 'IMAGE_CORRUPT';
    throw new NstError(code, `${source.label} (${header.format}) is truncated or damaged: ${message}`, {
      cause: e,
    });
  }
  return {
    ...splitChannels(raw.data, raw.info.width, raw.info.height, raw.info.channels),
    format: header.format,
  };
}

/** Interleaved 8-bit RGB or RGBA to a float RgbImage plus an optional alpha plane. */
function splitChannels(
  bytes: Uint8Array,
  width: number,
  height: number,
  channels: number,
): { image: RgbImage; alpha?: Float32Array; width: number; height: number } {
  const pixels = width * height;
  const rgb = new Float32Array(pixels * 3);
  const alpha = channels === 4 ? new Float32Array(pixels) : undefined;
  for (let p = 0; p < pixels; p++) {
    rgb[p * 3] = bytes[p * channels];
    rgb[p * 3 + 1] = bytes[p * channels + 1];
    rgb[p * 3 + 2] = bytes[p * channels + 2];
    if (alpha) alpha[p] = bytes[p * 4 + 3];
  }
  const image: RgbImage = { width, height, data: rgb };
  return alpha ? { image, alpha, width, height } : { image, width, height };
}
