/**
 * The coarse-to-fine schedule: image sizes growing by about `scaleGrowth` per scale up to the target, each
 * scale starting from the upsampled result of the last one, and the iterations of each scale.
 */
import { NstError } from '../errors.js';
import { sizeForLongestSide } from './resample.js';
import { MIN_IMAGE_SIDE } from './vgg.js';

/**
 * The default schedule: 256 px, then twice the size per scale; 60 iterations at each scale but the final
 * one, 100 at the final one. At 512 px that is 256 (60) -> 512 (100), a third of the classic schedule's time
 * with a final loss within 5% of it (`npm run bench -- --e2e` runs both; issue 11 has the figures). Why:
 * - The final loss is set at the final scale, and there about 100 iterations are needed from any start:
 *   after an upsample the loss is 2-3x its end value, most of the gain comes in the first 20 iterations,
 *   and from 80 to 200 it falls only 4% more. So most of the budget goes there.
 * - The coarse scales only make a start, and a better start is soon forgotten: after the classic 1000
 *   coarse iterations the final scale starts 35% lower than after 60 at 256 px, but 80 iterations later
 *   the two are 2% apart. Starting at 128 px, or more coarse iterations, lost to starting at 256 px at the
 *   same total time.
 * - Doubling between scales instead of sqrt 2: the start after a 2x upsample is worse, but L-BFGS
 *   recovers within about 40 iterations, and a 362 px scale in between did not lower the loss after 80
 *   final-scale iterations: its time is better spent there.
 * - L-BFGS with a fixed step stays: a strong-Wolfe line search costs 1.3 evaluations per iteration for
 *   less descent per evaluation here, and a longer history (100 pairs) did not lower the loss.
 */
export const DEFAULT_SCHEDULE = { minSize: 256, scaleGrowth: 2, iterations: [60, 100] } as const;

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
