/**
 * The style yardstick (bench/yardstick.ts) with the real weights: what it measures, and the claim it rests on,
 * that images resized alike keep their order whatever the filter and the side.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gramDistance, luminanceSsim, Yardstick } from '../../bench/yardstick.js';
import type { RgbImage } from '../../src/engine/types.js';
import { MANIFEST_FILE } from '../../src/weights/manifest.js';
import { SHARED_IMAGES, SHARED_WEIGHTS } from '../helpers/shared.js';

const PHOTO = path.join(SHARED_IMAGES, 'content/tubingen.jpg');
const PAINTING = path.join(SHARED_IMAGES, 'style/starry_night.jpg');
const present =
  existsSync(path.join(SHARED_WEIGHTS, MANIFEST_FILE)) && existsSync(PHOTO) && existsSync(PAINTING);
if (!present) console.log(`yardstick tests skipped: no real weights or images under ${SHARED_IMAGES}/..`);

/** The photo at 512 px with a share t of the painting (stretched over it) mixed in: more t, more painting. */
async function mixes(shares: readonly number[]): Promise<RgbImage[]> {
  const [width, height] = [512, 384];
  const read = async (file: string) =>
    Float32Array.from(
      await sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer(),
    );
  const [photo, painting] = [await read(PHOTO), await read(PAINTING)];
  return shares.map((t) => ({ width, height, data: photo.map((v, i) => (1 - t) * v + t * painting[i]) }));
}

describe.skipIf(!present)('the style yardstick', () => {
  let yardstick: Yardstick;
  beforeAll(async () => {
    yardstick = await Yardstick.create(SHARED_WEIGHTS);
  });
  afterAll(() => yardstick?.dispose());

  it('scores the painting 0 against itself and the photo 1 against itself, with a term for each style layer', async () => {
    const painting = await yardstick.measure(PAINTING, PAINTING, PAINTING);
    expect(painting.style.score).toBe(0);
    expect(painting.ssim).toBeCloseTo(1, 6);
    const photo = await yardstick.measure(PHOTO, PAINTING, PHOTO);
    expect(photo.style.layers).toHaveLength(5);
    expect(photo.style.layers.every((term) => term > 0)).toBe(true);
    expect(photo.ssim).toBeGreaterThan(0.99);
  });

  it('resizes to the longest side of 256 px for the style score', async () => {
    const photo = await yardstick.resize(PHOTO);
    expect([photo.width, photo.height]).toEqual([256, 192]);
    const painting = await yardstick.resize(PAINTING);
    expect([painting.width, painting.height]).toEqual([256, 160]);
  });

  it('keeps the order of results across filters and sides when all the images are resized alike', async () => {
    // Two close mixes (0.4, 0.5) besides far ones: the order must not depend on how anything was resized.
    const results = await mixes([0, 0.4, 0.5, 0.8]);
    for (const side of [256, 384]) {
      for (const kernel of ['lanczos3', 'linear', 'cubic'] as const) {
        const stick = yardstick.withResizing({ side, kernel });
        const scores: number[] = [];
        const ssims: number[] = [];
        for (const result of results) {
          const m = await stick.measure(result, PAINTING, PHOTO);
          scores.push(m.style.score);
          ssims.push(m.ssim);
        }
        const where = `${kernel} at ${side} px: ${scores.map((s) => s.toExponential(2)).join(' > ')}`;
        expect(scores, where).toEqual([...scores].sort((a, b) => b - a));
        expect(new Set(scores).size, where).toBe(scores.length);
        expect(ssims, where).toEqual([...ssims].sort((a, b) => b - a));
      }
    }
  });
});

describe('the yardstick’s arithmetic', () => {
  it('gramDistance is sum((a - b)^2) / (4 N^2)', () => {
    const a = Float32Array.of(1, 2, 3, 4);
    const b = Float32Array.of(1, 0, 3, 1);
    expect(gramDistance(a, b)).toBe((4 + 9) / (4 * 4));
  });

  it('luminanceSsim refuses images of different sizes', () => {
    const image = (width: number) => ({ width, height: 8, data: new Float32Array(width * 8 * 3) });
    expect(() => luminanceSsim(image(8), image(9))).toThrow(/one size, got 8x8 and 9x8/);
  });
});
