/**
 * The coarse-to-fine schedule: image sizes growing by about `scaleGrowth` per scale up to the target, each
 * scale starting from the upsampled result of the last one, and the iterations of each scale.
 */
import { NstError } from '../errors.js';
import { sizeForLongestSide } from './resample.js';
import { MIN_IMAGE_SIDE } from './vgg.js';

/**
 * The default schedule: 128 px, then twice the size per scale; 60 iterations at each scale but the final
 * one, 100 at the final one. At 512 px that is 128 (60) -> 256 (60) -> 512 (100). Why:
 * - The 128 px first scale is where the painting's large structures form (issue 21): there the style
 *   layers see the image at a quarter of its size, so relu4_1's strokes become swirls a quarter of the
 *   picture wide that the finer scales keep and refine. Started at 256 px, the same weights made small,
 *   even strokes: style score (bench/yardstick.ts) 2.6e7 against 1.7e7 from 128 px, on tubingen at 512 px.
 *   The scale costs 60 iterations on a sixteenth of the pixels: about 4% of the job. (Issue 11 had chosen
 *   256 px by the total loss, which the content term dominates: it could not see this.)
 * - The final loss is set at the final scale, and there about 100 iterations are needed from any start:
 *   after an upsample the loss is 2-3x its end value, most of the gain comes in the first 20 iterations,
 *   and from 80 to 200 it falls only 4% more (issue 11). So most of the budget goes there.
 * - Doubling between scales instead of sqrt 2: the start after a 2x upsample is worse, but L-BFGS
 *   recovers within about 40 iterations, and a 362 px scale in between did not lower the loss after 80
 *   final-scale iterations: its time is better spent there.
 * - L-BFGS with a fixed step stays: a strong-Wolfe line search costs 1.3 evaluations per iteration for
 *   less descent per evaluation here, and a longer history (100 pairs) did not lower the loss.
 */
export const DEFAULT_SCHEDULE = { minSize: 128, scaleGrowth: 2, iterations: [60, 100] } as const;

/** The schedule before issue 11 (jcjohnson's 200 iterations at each of 5 scales from 128 px), for comparisons. */
export const CLASSIC_SCHEDULE = { minSize: 128, scaleGrowth: Math.SQRT2, iterations: 200 } as const;

/** Iterations per scale: one number for every scale, or a list (see iterationsAt). */
export type IterationSchedule = number | readonly number[];

/**
 * The iterations of scale i of n. A list's last entry is the final scale's (the result's size); the entries
 * before it go to the scales from the first on, their last one repeating over the middle scales. So
 * [50, 30, 80] over 5 scales is 50, 30, 30, 30, 80, over 2 scales 50, 80, and a one-scale run gets 80.
 */
export function iterationsAt(schedule: IterationSchedule, i: number, n: number): number {
  if (typeof schedule === 'number') return schedule;
  const last = schedule.length - 1;
  if (i === n - 1 || last === 0) return schedule[last];
  return schedule[Math.min(i, last - 1)];
}

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
  /** Iterations per scale (see iterationsAt). */
  readonly iterations: IterationSchedule;
  /** Size ratio between scales (default DEFAULT_SCHEDULE's). */
  readonly scaleGrowth?: number;
}

export function planScales(options: ScheduleOptions): Scale[] {
  const { width, height, minSize } = options;
  const growth = options.scaleGrowth ?? DEFAULT_SCHEDULE.scaleGrowth;
  const longest = Math.max(width, height);
  // Evenly spaced in log-size from minSize to the target, with steps as close to `growth` as a whole
  // number of steps allows (so 384 px from 128 by sqrt 2 gives 128, 185, 266, 384, never two near-equal scales).
  const steps = longest > minSize ? Math.round(Math.log(longest / minSize) / Math.log(growth)) : 0;
  const sides = Array.from({ length: steps + 1 }, (_, i) =>
    steps === 0 ? longest : minSize * (longest / minSize) ** (i / steps),
  );
  if (Math.min(width, height) < MIN_IMAGE_SIDE) {
    throw new NstError(
      'INVALID_OPTION',
      `the result would be ${width}x${height}: both sides must be at least ${MIN_IMAGE_SIDE} px (raise the size)`,
    );
  }
  const scales = sides.map((side, i) => {
    const size =
      i === sides.length - 1 ? { width, height } : sizeForLongestSide(width, height, Math.round(side));
    return { ...size, iterations: iterationsAt(options.iterations, i, sides.length) };
  });
  // Very wide or tall images: coarse scales whose short side is under the minimum are skipped.
  return scales.filter((s) => Math.min(s.width, s.height) >= MIN_IMAGE_SIDE);
}

/** Relative cost of a scale (work grows with pixels), for ETAs and the cost model. */
export const scaleWork = (s: { width: number; height: number; iterations: number }) =>
  s.width * s.height * s.iterations;
