/**
 * Routing: run a job here, hand it to AWS Batch, or refuse it, from the cost model's estimate of the work
 * left and the time this invocation has left.
 */
import type { CostEstimate } from '../engine/cost-model.js';

/** Estimates are calibrated means; leave room for a slower run than the estimate. */
export const ESTIMATE_SAFETY_FACTOR = 1.25;

export type Route =
  | { readonly target: 'here'; readonly seconds: number }
  | { readonly target: 'batch'; readonly seconds: number }
  | { readonly target: 'too-large'; readonly seconds: number; readonly availableSeconds: number };

export interface RouteInput {
  /** The cost model's estimate for the whole job. */
  readonly estimate: Pick<CostEstimate, 'scales'>;
  /** Where a previous run stopped, when continuing. */
  readonly resume?: { readonly scaleIndex: number; readonly iteration: number };
  /** Seconds this worker has for the job (after the deadline margin); undefined: no deadline. */
  readonly availableSeconds?: number;
  readonly batchConfigured: boolean;
}

/** Estimated seconds of the work after `resume` (all of it without one). */
export function remainingSeconds(
  estimate: Pick<CostEstimate, 'scales'>,
  resume?: RouteInput['resume'],
): number {
  return estimate.scales.reduce((sum, scale, i) => {
    if (!resume || i > resume.scaleIndex) return sum + scale.seconds;
    if (i < resume.scaleIndex) return sum;
    return sum + scale.seconds * (1 - Math.min(resume.iteration, scale.iterations) / scale.iterations);
  }, 0);
}

/**
 * Fits here: run here. Else Batch when configured. Else a continuation keeps going (it checkpoints again at
 * the next deadline, up to the continuation limit), and a new job that cannot fit is refused at once.
 */
export function chooseRoute(input: RouteInput): Route {
  const seconds = remainingSeconds(input.estimate, input.resume);
  if (input.availableSeconds === undefined || seconds * ESTIMATE_SAFETY_FACTOR <= input.availableSeconds) {
    return { target: 'here', seconds };
  }
  if (input.batchConfigured) return { target: 'batch', seconds };
  if (input.resume) return { target: 'here', seconds };
  return { target: 'too-large', seconds, availableSeconds: input.availableSeconds };
}
