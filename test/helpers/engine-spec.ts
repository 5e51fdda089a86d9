/** Engine specs on random images, for the engine tests. */
import { DEFAULT_LOSS_WEIGHTS } from '../../src/engine/losses.js';
import type { EngineSpec, MaskImage, Pooling, RgbImage, VggWeights } from '../../src/engine/types.js';
import { seededRandom } from '../../src/engine/vgg.js';

/** Uniform noise over the pixel range, deterministic in the seed. */
export function noiseImage(width: number, height: number, seed: number): RgbImage {
  const rand = seededRandom(seed);
  return { width, height, data: Float32Array.from({ length: width * height * 3 }, () => rand() * 255) };
}

/**
 * A spec at width x height with the default loss weights (TV weight `tv`), a noise content image (seed
 * `seed`) and noise style images of the given sizes and blend weights (seeds seed + 9, seed + 10, ...).
 */
export function noiseSpec(
  weights: VggWeights,
  width: number,
  height: number,
  pooling: Pooling,
  tv: number,
  styles: readonly { w: number; h: number; weight: number; mask?: MaskImage }[],
  seed = 1,
): EngineSpec {
  return {
    weights,
    width,
    height,
    pooling,
    loss: { ...DEFAULT_LOSS_WEIGHTS, tv },
    content: noiseImage(width, height, seed),
    styles: styles.map((s, i) => ({
      image: noiseImage(s.w, s.h, seed + 9 + i),
      weight: s.weight,
      ...(s.mask ? { mask: s.mask } : {}),
    })),
    threads: 2,
  };
}

/** A mask at width x height from a function of the pixel's row and column (clamped to 0..1). */
export function maskOf(width: number, height: number, value: (y: number, x: number) => number): MaskImage {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = Math.min(1, Math.max(0, value(y, x)));
  return { width, height, data };
}

/**
 * A sky / ground pair: sky white down to a third of the height, fading to 0 at two thirds; ground 0 down to
 * a sixth, white from half the height. They overlap (sum over 1) in the middle band; the left column is
 * covered by neither and the next one by half.
 */
export function skyGroundMasks(width: number, height: number): [MaskImage, MaskImage] {
  const ramp = (v: number) => Math.min(1, Math.max(0, v));
  const covered = (x: number) => (x === 0 ? 0 : x === 1 ? 0.5 : 1);
  return [
    maskOf(width, height, (y, x) => covered(x) * ramp(2 - (3 * y) / height)),
    maskOf(width, height, (y, x) => covered(x) * ramp((3 * y) / height - 0.5)),
  ];
}
