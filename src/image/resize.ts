/**
 * High-quality resizing of whole images with sharp (libvips), for the user's photos and paintings
 * before the engine sees them. The coarse-to-fine schedule's small steps use src/engine/resample.ts.
 */
import sharp from 'sharp';
import type { RgbImage } from '../engine/types.js';

/**
 * 0..255 floats travel through sharp as 16-bit samples (value * 257), which keeps 1/257 of a level.
 * Float raw input does not work in sharp 0.35: it is tagged RGB16 and cast to ushort on output, and
 * without toColourspace('rgb16') it is then squashed to 8-bit. 16-bit is what sharp actually supports.
 */
const SCALE_16 = 257;

function assertSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
}

/**
 * Resizes to exactly width x height (aspect is the caller's choice: see fitLongestSide). Lanczos3
 * when shrinking (sharp, antialiased); Mitchell when enlarging, which rings less than Lanczos.
 * Values are clamped to 0..255. Measured: enlarging keeps a flat area within 0.001 of a level;
 * shrinking can shift it by up to 0.2% (0.44 of a level at 255), from libvips's fixed-point weights.
 */
export async function resizeImage(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  assertSize(width, height);
  if (width === image.width && height === image.height) return { width, height, data: image.data.slice() };
  const samples = Uint16Array.from(image.data, (v) => Math.round(Math.min(255, Math.max(0, v)) * SCALE_16));
  const shrinking = width <= image.width && height <= image.height;
  const out = await sharp(samples, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: shrinking ? 'lanczos3' : 'mitchell' })
    .toColourspace('rgb16')
    .raw({ depth: 'ushort' })
    .toBuffer();
  const resized = new Uint16Array(out.buffer, out.byteOffset, out.length / 2);
  return { width, height, data: Float32Array.from(resized, (v) => v / SCALE_16) };
}

/**
 * The size whose longest side is `longest`, aspect kept, each side at least 1 px. With
 * allowUpscale false an image already within `longest` keeps its size.
 */
export function fitLongestSide(
  width: number,
  height: number,
  longest: number,
  allowUpscale = true,
): { width: number; height: number } {
  assertSize(width, height);
  if (!Number.isInteger(longest) || longest < 1)
    throw new RangeError(`longest side must be a positive integer, got ${longest}`);
  const scale = longest / Math.max(width, height);
  if (scale > 1 && !allowUpscale) return { width, height };
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
