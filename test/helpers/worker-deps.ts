/**
 * A worker for fast unit tests of the pipeline: WorkerDeps over the in-memory S3 (memory-s3.ts), built by
 * the workers' own builder (buildWorkerDeps) from an environment as the function reads it, with a clock the
 * test sets, a notifier that keeps what it is told, and no weights or engine: both throw if called, so a
 * test that needs no stylisation proves it never started one.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { type Mock, vi } from 'vitest';
import { readPipelineConfig } from '../../src/jobs/config.js';
import type { Invocation } from '../../src/jobs/lifecycle/locked-job.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import type { Notifier } from '../../src/jobs/notify/notifier.js';
import type { Dispatcher, WorkerDeps } from '../../src/jobs/run/run-context.js';
import { buildWorkerDeps } from '../../src/jobs/wiring/build-deps.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { type MemoryS3, memoryS3 } from './memory-s3.js';

export const BUCKET = 'nst-unit';

/** A logger that says nothing (tests spy on it where what it says matters). */
export const silentLogger = (): Logger => new Logger({ serviceName: 'nst-test', logLevel: 'SILENT' });

/** The workers' clock: 2025-01-01T00:00:00Z unless a test sets it. */
export const T0 = new Date('2025-01-01T00:00:00.000Z');

/** A notifier that keeps what it is told, in order: finished jobs in `sent`, first runs in `firstRuns`. */
class RecordingNotifier implements Notifier {
  readonly sent: JobNotification[] = [];
  readonly firstRuns: JobNotification[] = [];

  async started(notification: JobNotification): Promise<void> {
    this.firstRuns.push(notification);
  }

  async finished(notification: JobNotification): Promise<void> {
    this.sent.push(notification);
  }
}

export interface MemoryWorkerOptions {
  /** Added to the environment the configuration is read from (readPipelineConfig). */
  readonly env?: Record<string, string>;
  readonly dispatch?: Dispatcher;
  readonly worker?: WorkerDeps['worker'];
}

export interface MemoryWorker {
  readonly s3: MemoryS3;
  readonly deps: WorkerDeps;
  /** The store of BUCKET, as the pipeline gets it (deps.storeFor). */
  readonly store: ObjectStore;
  readonly notifier: RecordingNotifier;
  /** Throw if called: a job that needs no stylisation must not load weights or build an engine. */
  readonly loadWeights: Mock<WorkerDeps['loadWeights']>;
  readonly createEngine: Mock<NonNullable<WorkerDeps['createEngine']>>;
  /** The time the workers and the bucket see (LastModified, leases, job.json timestamps). */
  now(): Date;
  setNow(now: Date): void;
}

export function memoryWorker(opts: MemoryWorkerOptions = {}): MemoryWorker {
  let now = T0;
  const clock = () => now;
  const s3 = memoryS3({ now: clock });
  const notifier = new RecordingNotifier();
  const loadWeights = vi.fn<WorkerDeps['loadWeights']>(async () => {
    throw new Error('loadWeights called in a test that must not stylise');
  });
  const createEngine = vi.fn<NonNullable<WorkerDeps['createEngine']>>(async () => {
    throw new Error('createEngine called in a test that must not stylise');
  });
  const deps = buildWorkerDeps({
    config: readPipelineConfig({ ...opts.env }),
    worker: opts.worker ?? 'lambda',
    s3: s3.client,
    logger: silentLogger(),
    notifier,
    loadWeights,
    createEngine,
    dispatch: opts.dispatch,
    now: clock,
  });
  return {
    s3,
    deps,
    store: deps.storeFor(BUCKET),
    notifier,
    loadWeights,
    createEngine,
    now: clock,
    setNow: (next) => {
      now = next;
    },
  };
}

/** An invocation with a Lambda deadline `remainingMs` away (absent: none, as Batch and local mode run). */
export const invocation = (remainingMs?: number, owner = 'req-1'): Invocation => ({
  owner,
  ...(remainingMs === undefined ? {} : { deadline: { getRemainingTimeInMillis: () => remainingMs } }),
});

/** Parses a JSON object of BUCKET (undefined when there is none). */
export function jsonAt<T>(s3: MemoryS3, key: string): T | undefined {
  const object = s3.object(key, BUCKET);
  return object && (JSON.parse(object.body.toString('utf8')) as T);
}
