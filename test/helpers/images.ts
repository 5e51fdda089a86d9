/** Test images made on the fly: photo-like pixels, files in os.tmpdir(). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from '../../src/engine/types.js';

/** A smooth colour gradient plus deterministic noise, so codecs and resizers see photo-like data. */
export function photoLike(width: number, height: number, seed = 1): RgbImage {
  let state = seed >>> 0 || 1;
  const noise = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32 - 0.5) * 24;
  };
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const clamp = (v: number) => Math.round(Math.min(255, Math.max(0, v)));
      data[i] = clamp(40 + (180 * x) / width + noise());
      data[i + 1] = clamp(60 + (150 * y) / height + noise());
      data[i + 2] = clamp(200 - (120 * (x + y)) / (width + height) + noise());
    }
  }
  return { width, height, data };
}

/** A sharp pipeline reading an 8-bit copy of the image, ready for an output format. */
export function sharpOf(image: RgbImage): Sharp {
  return sharp(Uint8Array.from(image.data), {
    raw: { width: image.width, height: image.height, channels: 3 },
  });
}

/** A solid colour image. */
export function solid(width: number, height: number, rgb: readonly [number, number, number]): RgbImage {
  const data = new Float32Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3];
  return { width, height, data };
}

/** The RGB value at (x, y). */
export function pixelAt(image: RgbImage, x: number, y: number): [number, number, number] {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
}

export function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/** A fresh directory under os.tmpdir() and a function that removes it. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
