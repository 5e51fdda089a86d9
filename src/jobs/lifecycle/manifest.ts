/**
 * The status manifest, outputs/<jobId>/job.json: what the user reads to learn what happened. It is
 * rewritten at each status transition (the history keeps every one), every so often while a job runs (its
 * progress, live-progress.ts) and, for a finished job, written last, after the result.
 */
import type { Progress } from '../../engine/stylize.js';
import type { EngineKind, LossTerms } from '../../engine/types.js';
import type { ErrorCode } from '../../errors.js';
import type { WorkerKind } from '../deployment.js';
import type { JobSpec } from '../spec/spec.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const isFinished = (status: JobStatus): boolean => status === 'succeeded' || status === 'failed';

/**
 * How far a run is: the engine's latest Progress (its position: scale, iteration, done of total, tiles) as
 * job.json carries it, with its loss terms as `loss` and without its frame image.
 */
export type JobProgress = Omit<Progress, 'terms' | 'image'> & {
  /** done / total (one decimal); 100 once the job has succeeded (a scale may converge early). */
  readonly percent: number;
  /** The latest loss terms. */
  readonly loss: LossTerms;
  readonly updatedAt: string;
};

/**
 * The engine's progress as job.json records it: seconds rounded, the ETA (absent until the run has done
 * ETA_MIN_ITERATIONS, src/engine/run-clock.ts) to whole seconds.
 */
export function jobProgress(p: Progress, now: Date): JobProgress {
  const { terms, image: _frame, elapsedSeconds, etaSeconds, ...position } = p;
  return {
    ...position,
    percent: p.total > 0 ? Math.floor((p.done * 1000) / p.total) / 10 : 0,
    elapsedSeconds: round(elapsedSeconds),
    ...(etaSeconds === undefined ? {} : { etaSeconds: Math.round(etaSeconds) }),
    loss: terms,
    updatedAt: now.toISOString(),
  };
}

/** A succeeded job's last progress: complete. */
export const completed = (p: JobProgress): JobProgress => ({ ...p, percent: 100, etaSeconds: 0 });

interface Transition {
  readonly status: JobStatus;
  readonly at: string;
  readonly detail?: string;
}

export interface JobManifest {
  readonly jobId: string;
  readonly status: JobStatus;
  /** While running, rewritten every so often (live-progress.ts); a finished job keeps its last. */
  readonly progress?: JobProgress;
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
  /** The Step Functions task waiting on the job (its spec's taskToken): told at the end, heartbeats meanwhile. */
  readonly taskToken?: string;
  readonly output?: {
    readonly key: string;
    readonly width: number;
    readonly height: number;
    readonly bytes: number;
  };
  readonly engine?: { readonly kind: EngineKind; readonly backend: string };
  /** Where the last run was routed, with the cost model's estimate. */
  readonly route?: {
    readonly worker: WorkerKind;
    /** The engine the run uses (`auto` resolved); the backend is recorded in `engine` when it succeeds. */
    readonly engine?: EngineKind;
    readonly estimatedSeconds: number;
    /** Seconds the Lambda had for the job after the safety margin (absent without a deadline). */
    readonly availableSeconds?: number;
  };
  readonly batch?: { readonly jobId: string; readonly jobQueue: string };
  /** The Step Functions execution that runs the job's tiled scales (src/jobs/tiled). */
  readonly tiles?: { readonly executionArn: string };
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

/** Seconds since a performance.now() mark: how the phases are timed. */
export const secondsSince = (mark: number): number => (performance.now() - mark) / 1000;

/** job.json's leading keys, in reading order (what happened first, the details after); the rest follow. */
const READING_ORDER = [
  'jobId',
  'status',
  'error',
  'progress',
  'bucket',
  'source',
  'output',
  'spec',
  'engine',
  'route',
  'batch',
  'tiles',
  'checkpoint',
] as const satisfies readonly (keyof JobManifest)[];

/** The manifest with its keys in reading order for job.json. */
export function forStorage(m: JobManifest): JobManifest {
  const leading = Object.fromEntries(READING_ORDER.map((key) => [key, m[key]]));
  return { ...leading, ...m } as JobManifest;
}
