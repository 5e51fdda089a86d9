/**
 * The coarse-to-fine schedule: image sizes growing by about sqrt(2) per scale up to the target, so most
 * iterations run on small images and each scale starts from the upsampled result of the last one.
 */
import { NstError } from '../errors.js';
import { sizeForLongestSide } from './resample.js';
import { MIN_IMAGE_SIDE } from './vgg.js';

export interface Scale {
  readonly width: number;
  readonly height: number;
  readonly iterations: number;
}

export interface ScheduleOptions {
  /** Target size of the result. */
  readonly width: number;
  readonly height: number;
  /** Longest side of the first scale; a target no larger than this runs at one scale. */
  readonly minSize: number;
  /** Iterations at each scale: one number for every scale, or one per scale (last entry repeats). */
  readonly iterations: number | readonly number[];
  /** Growth between scales (default sqrt 2). */
  readonly growth?: number;
}

export function planScales(options: ScheduleOptions): Scale[] {
  const { width, height, minSize } = options;
  const growth = options.growth ?? Math.SQRT2;
  const longest = Math.max(width, height);
  // Evenly spaced in log-size from minSize to the target, with steps as close to `growth` as a whole
  // number of steps allows (so 384 px from 128 gives 128, 185, 266, 384, never two near-equal scales).
  const steps = longest > minSize ? Math.round(Math.log(longest / minSize) / Math.log(growth)) : 0;
  const sides = Array.from({ length: steps + 1 }, (_, i) =>
    steps === 0 ? longest : minSize * (longest / minSize) ** (i / steps),
  );
  const perScale = (i: number) => {
    const its = options.iterations;
    return typeof its === 'number' ? its : its[Math.min(i, its.length - 1)];
  };
  if (Math.min(width, height) < MIN_IMAGE_SIDE) {
    throw new NstError(
      'INVALID_OPTION',
      `the result would be ${width}x${height}: both sides must be at least ${MIN_IMAGE_SIDE} px (raise the size)`,
    );
  }
  const scales = sides.map((side, i) => {
    const size =
      i === sides.length - 1 ? { width, height } : sizeForLongestSide(width, height, Math.round(side));
    return { ...size, iterations: perScale(i) };
  });
  // Very wide or tall images: coarse scales whose short side is under the minimum are skipped.
  return scales.filter((s) => Math.min(s.width, s.height) >= MIN_IMAGE_SIDE);
}

/** Relative cost of a scale (work grows with pixels), for ETAs and the cost model. */
export const scaleWork = (s: { width: number; height: number; iterations: number }) =>
  s.width * s.height * s.iterations;
