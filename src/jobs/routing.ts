/**
 * Routing: run a job here, hand it to AWS Batch, or refuse it, from the cost model's estimate of the work
 * left (time) and the memory model's estimate of the peak (memory), against what this worker and the Batch
 * job definition have.
 */
import type { CostEstimate } from '../engine/cost-model.js';

/** Estimates are calibrated means; leave room for a slower run than the estimate. */
export const ESTIMATE_SAFETY_FACTOR = 1.25;
/**
 * A job may plan to use this much of the memory it has: peak RSS varies by up to 25% between identical
 * runs (memory-model.ts), and an OOM kill loses the whole attempt.
 */
export const MEMORY_MARGIN = 0.8;

export type RouteTarget = 'here' | 'batch' | 'too-large';

export type Route =
  | { readonly target: 'here'; readonly seconds: number }
  | { readonly target: 'batch'; readonly seconds: number }
  | { readonly target: 'too-large'; readonly seconds: number; readonly reason: string };

/** What a job needs (estimates) and what a place to run it has (limits). */
export interface Fit {
  /** The cost model's estimate for the whole job there. */
  readonly estimate: Pick<CostEstimate, 'scales'>;
  /** The memory model's peak there, MB (host RSS here; device memory on Batch). */
  readonly peakMb: number;
  /** Seconds it has for the job (here: after the deadline margin); undefined: no deadline. */
  readonly availableSeconds?: number;
  /** Memory it has, MB; undefined: no limit known. */
  readonly memoryMb?: number;
}

export interface RouteInput {
  /** This worker: the Lambda function, the Batch worker, or local mode. */
  readonly here: Fit;
  /** The Batch GPU path, when configured: time there, GPU memory, the job definition's timeout. */
  readonly batch?: Fit;
  /** Where a previous run stopped, when continuing. */
  readonly resume?: { readonly scaleIndex: number; readonly iteration: number };
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

const fitsTime = (seconds: number, fit: Fit) =>
  fit.availableSeconds === undefined || seconds * ESTIMATE_SAFETY_FACTOR <= fit.availableSeconds;
const fitsMemory = (fit: Fit) => fit.memoryMb === undefined || fit.peakMb <= fit.memoryMb * MEMORY_MARGIN;

/**
 * Fits here in time and memory: run here. Else Batch when configured and the job fits its GPU memory and
 * timeout. Else a continuation that fits the memory keeps going (it checkpoints again at the next deadline,
 * up to the continuation limit), and anything else is refused at once, naming both estimates.
 */
export function chooseRoute(input: RouteInput): Route {
  const { here, batch, resume } = input;
  const seconds = remainingSeconds(here.estimate, resume);
  if (fitsTime(seconds, here) && fitsMemory(here)) return { target: 'here', seconds };
  const batchSeconds = batch ? remainingSeconds(batch.estimate, resume) : undefined;
  if (batch && batchSeconds !== undefined && fitsTime(batchSeconds, batch) && fitsMemory(batch)) {
    return { target: 'batch', seconds: batchSeconds };
  }
  if (resume && fitsMemory(here)) return { target: 'here', seconds };
  return { target: 'too-large', seconds, reason: tooLargeReason(seconds, here, batch, batchSeconds) };
}

const mb = (n: number) => `${Math.round(n)} MB`;
const s = (n: number) => `${Math.round(n)} s`;

/** Both estimates against both limits, and what to change. */
function tooLargeReason(seconds: number, here: Fit, batch?: Fit, batchSeconds?: number): string {
  const parts = [`the job needs about ${s(seconds)} and ${mb(here.peakMb)} of memory here`];
  const limits = [
    ...(here.availableSeconds === undefined
      ? []
      : [`${s(here.availableSeconds / ESTIMATE_SAFETY_FACTOR)} of its ${s(here.availableSeconds)}`]),
    ...(here.memoryMb === undefined
      ? []
      : [`${mb(here.memoryMb * MEMORY_MARGIN)} of its ${mb(here.memoryMb)}`]),
  ];
  if (limits.length > 0) parts[0] += ` (it fits in ${limits.join(' and ')})`;
  if (batch && batchSeconds !== undefined) {
    const batchLimits = [
      ...(batch.availableSeconds === undefined
        ? []
        : [
            `${s(batch.availableSeconds / ESTIMATE_SAFETY_FACTOR)} of the job timeout of ${s(batch.availableSeconds)}`,
          ]),
      ...(batch.memoryMb === undefined
        ? []
        : [`${mb(batch.memoryMb * MEMORY_MARGIN)} of the GPU's ${mb(batch.memoryMb)}`]),
    ];
    parts.push(
      `on AWS Batch about ${s(batchSeconds)} and ${mb(batch.peakMb)} of GPU memory` +
        (batchLimits.length > 0 ? ` (it fits in ${batchLimits.join(' and ')})` : ''),
    );
  } else {
    parts.push('AWS Batch is not configured for large jobs');
  }
  return `${parts.join('; ')}: lower size, iterations or the number of styles`;
}
