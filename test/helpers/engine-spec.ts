/** Engine specs on random images, for the engine tests. */
import { DEFAULT_LOSS_WEIGHTS } from '../../src/engine/losses.js';
import type { EngineSpec, Pooling, RgbImage, VggWeights } from '../../src/engine/types.js';
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
  styles: readonly { w: number; h: number; weight: number }[],
  seed = 1,
): EngineSpec {
  return {
    weights,
    width,
    height,
    pooling,
    loss: { ...DEFAULT_LOSS_WEIGHTS, tv },
    content: noiseImage(width, height, seed),
    styles: styles.map((s, i) => ({ image: noiseImage(s.w, s.h, seed + 9 + i), weight: s.weight })),
    threads: 2,
  };
}
