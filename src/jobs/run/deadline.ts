/**
 * Stops a run `marginSeconds` before the Lambda's deadline, leaving time to checkpoint and hand off: a
 * timer (in case an iteration is slow), a check the run makes after every iteration, and a check before
 * each scale. onnxruntime-node runs an evaluation synchronously, so the timer only fires between
 * evaluations; and a new scale's set-up (graph, session, style targets) and first evaluations are the
 * longest stretch without one (at 2048 px they can overrun the margin). So before building a scale's
 * engine the run checks the time left against that scale's estimated set-up plus a few evaluations (the
 * cost model's per-scale estimate), and stops at the checkpoint before the scale instead of starting it.
 */
import { type ScaleCosting, scaleSeconds } from '../../engine/cost-model.js';
import type { ScaleStart } from '../../engine/stylize.js';
import { ESTIMATE_SAFETY_FACTOR } from './routing.js';

export interface DeadlineStop {
  /** Aborted when the deadline is near. */
  readonly signal: AbortSignal;
  /** Aborts the signal when the deadline is near (call after each iteration). */
  check(): void;
  /**
   * stylize()'s beforeScale hook: true (and the signal aborted) when the scale's set-up and first
   * evaluations (with the routing's safety factor) would not fit before the margin. The first scale of a run always starts (stopping there
   * would make no progress; routing sent the job here because it fits).
   */
  beforeScale(scale: ScaleStart): boolean;
  clear(): void;
}

/** Evaluations a scale must have time for, after its set-up, before it is started. */
const EVALUATIONS_BEFORE_SCALE = 3;

/** Estimated seconds to build a scale's engine and run `EVALUATIONS_BEFORE_SCALE` evaluations at it. */
const scaleStartSeconds = (scale: { width: number; height: number }, costing: ScaleCosting): number =>
  scaleSeconds(scale, EVALUATIONS_BEFORE_SCALE, costing);

/** Without a deadline (Batch, local), the signal never aborts. */
export function stopBeforeDeadline(
  deadline: { getRemainingTimeInMillis(): number } | undefined,
  marginSeconds: number,
  costing?: ScaleCosting,
): DeadlineStop {
  const marginMs = marginSeconds * 1000;
  const stop = new AbortController();
  const timer = deadline
    ? setTimeout(() => stop.abort(), Math.max(0, deadline.getRemainingTimeInMillis() - marginMs))
    : undefined;
  timer?.unref();
  let scalesStarted = 0;
  return {
    signal: stop.signal,
    check() {
      if (deadline && deadline.getRemainingTimeInMillis() <= marginMs) stop.abort();
    },
    beforeScale(scale) {
      if (stop.signal.aborted) return true;
      if (scalesStarted++ === 0 || !deadline) return false;
      const needMs = costing ? scaleStartSeconds(scale, costing) * ESTIMATE_SAFETY_FACTOR * 1000 : 0;
      if (deadline.getRemainingTimeInMillis() - marginMs >= needMs) return false;
      stop.abort();
      return true;
    },
    clear: () => clearTimeout(timer),
  };
}
