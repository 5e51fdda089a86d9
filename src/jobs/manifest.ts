/**
 * The status manifest, outputs/<jobId>/job.json: what the user reads to learn what happened. It is
 * rewritten at each status transition (the history keeps every one) and, for a finished job, written
 * last, after the result.
 */
import type { LossTerms } from '../engine/types.js';
import type { ErrorCode } from '../errors.js';
import type { JobSpec } from './spec.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type Worker = 'lambda' | 'batch' | 'local';

export const isFinished = (status: JobStatus): boolean => status === 'succeeded' || status === 'failed';

interface Transition {
  readonly status: JobStatus;
  readonly at: string;
  readonly detail?: string;
}

export interface JobManifest {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly bucket: string;
  /** The upload that started the job. */
  readonly source: {
    readonly key: string;
    readonly kind: 'drop-in' | 'spec' | 'misplaced';
    readonly etag: string;
    readonly versionId?: string;
  };
  /** The resolved spec (absent when the spec itself was invalid). */
  readonly spec?: JobSpec;
  readonly output?: {
    readonly key: string;
    readonly width: number;
    readonly height: number;
    readonly bytes: number;
  };
  readonly engine?: { readonly kind: string; readonly backend: string };
  /** Where the last run was routed, with the cost model's estimate. */
  readonly route?: {
    readonly worker: Worker;
    readonly estimatedSeconds: number;
    /** Seconds the Lambda had for the job after the safety margin (absent without a deadline). */
    readonly availableSeconds?: number;
  };
  readonly batch?: { readonly jobId: string; readonly jobQueue: string };
  /** The last deadline checkpoint (outputs/<jobId>/checkpoint.json). */
  readonly checkpoint?: { readonly scaleIndex: number; readonly iteration: number; readonly savedAt: string };
  /** Runs started (a continuation or Batch hand-off starts another). */
  readonly runs: number;
  readonly continuations: number;
  readonly timings: {
    readonly createdAt: string;
    readonly startedAt?: string;
    readonly finishedAt?: string;
    /** Seconds per phase, summed over runs: fetching inputs, stylising, storing outputs. */
    readonly phases: { readonly fetch: number; readonly stylize: number; readonly store: number };
  };
  readonly iterations?: number;
  readonly losses?: { readonly initial: LossTerms; readonly final: LossTerms };
  readonly error?: { readonly code: ErrorCode; readonly message: string };
  readonly history: readonly Transition[];
}

export function newManifest(
  jobId: string,
  bucket: string,
  source: JobManifest['source'],
  now: Date,
): JobManifest {
  const at = now.toISOString();
  return {
    jobId,
    status: 'queued',
    bucket,
    source,
    runs: 0,
    continuations: 0,
    timings: { createdAt: at, phases: { fetch: 0, stylize: 0, store: 0 } },
    history: [{ status: 'queued', at, detail: `${source.kind} ${source.key}` }],
  };
}

/** The manifest in a new status, with `changes` applied and the transition recorded. */
export function transition(
  manifest: JobManifest,
  status: JobStatus,
  now: Date,
  detail?: string,
  changes: Partial<JobManifest> = {},
): JobManifest {
  const at = now.toISOString();
  const next = { ...manifest, ...changes };
  return {
    ...next,
    status,
    timings: {
      ...next.timings,
      ...(status === 'running' && !next.timings.startedAt ? { startedAt: at } : {}),
      ...(isFinished(status) ? { finishedAt: at } : {}),
    },
    history: [...next.history, detail ? { status, at, detail } : { status, at }],
  };
}

/** Adds seconds to one phase. */
export function addPhase(
  manifest: JobManifest,
  phase: keyof JobManifest['timings']['phases'],
  seconds: number,
): JobManifest {
  const phases = { ...manifest.timings.phases, [phase]: round(manifest.timings.phases[phase] + seconds) };
  return { ...manifest, timings: { ...manifest.timings, phases } };
}

export const round = (seconds: number): number => Math.round(seconds * 1000) / 1000;

/** The manifest with its keys in reading order (what happened first, the details after) for job.json. */
export function forStorage(m: JobManifest): JobManifest {
  const { jobId, status, error, bucket, source, output, spec, engine, route, batch, checkpoint, ...rest } = m;
  return { jobId, status, error, bucket, source, output, spec, engine, route, batch, checkpoint, ...rest };
}
