/**
 * A claimed job: the lock this worker holds, and the error policy (ERROR_POLICY in src/errors.ts) that
 * ends every failure of the work done under it:
 * - no retry (input and internal errors: bad image, bad spec, missing style, too large, bugs): job.json
 *   `failed` with the code, a failure notification, and a normal return, because retrying cannot help;
 * - retry (transient and aborted errors: S3, SNS, network): the lock is released and the error is rethrown
 *   so the platform retries (and, after its retries, puts the event in the dead-letter queue);
 * - a lost lock (taken over by another worker): stop without writing anything.
 * The claim opens the job's lifecycle (job-lifecycle.ts), the one writer of job.json, once.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { ERROR_POLICY, NstError, toNstError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { PipelineConfig } from '../config.js';
import type { Notifier } from '../notify/notifier.js';
import { outputKeys } from '../spec/keys.js';
import { JobLifecycle } from './job-lifecycle.js';
import type { JobLock } from './lock.js';
import type { Invocation, JobOutcome } from './locked-job.js';
import { isFinished, type JobManifest } from './manifest.js';
import type { JobMetrics } from './metrics.js';

/** What the lifecycle needs from the worker. */
export interface LifecycleDeps {
  readonly config: Pick<PipelineConfig, 'leaseSeconds'>;
  readonly storeFor: (bucket: string) => ObjectStore;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly metrics?: JobMetrics;
  /** The least time between two progress writes to job.json (default PROGRESS_WRITE_INTERVAL_MS). */
  readonly progressIntervalMs?: number;
  readonly now?: () => Date;
}

export class JobClaim {
  readonly keys: ReturnType<typeof outputKeys>;
  private readonly lostController = new AbortController();
  private job?: JobLifecycle;

  constructor(
    readonly deps: LifecycleDeps,
    readonly inv: Invocation,
    readonly store: ObjectStore,
    readonly jobId: string,
    readonly lock: JobLock,
    readonly log: Logger,
  ) {
    this.keys = outputKeys(jobId);
  }

  /** Aborted when the lock is lost (taken over, or not renewable): stop without writing anything. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  /** The lock's heartbeat found the lock lost. */
  lose(reason: NstError): void {
    this.lostController.abort(reason);
  }

  now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** The job's lifecycle from its job.json (new or read): opened once per claim. */
  open(manifest: JobManifest): JobLifecycle {
    if (this.job) throw new NstError('INTERNAL', `job ${this.jobId} opened twice under one claim`);
    this.job = new JobLifecycle(this, manifest);
    return this.job;
  }

  /** Nothing to do: the lock is given up at once. */
  async skip(detail: string): Promise<JobOutcome> {
    this.log.warn('job skipped', { detail });
    await this.lock.handOff(undefined, 0);
    return { jobId: this.jobId, status: 'skipped', detail };
  }

  /** Ends the job after an error, by the error policy (see the file comment). */
  async failed(e: unknown): Promise<JobOutcome> {
    const error = toNstError(e);
    const { job } = this;
    // No progress write may land after the lock is given up or lost.
    await job?.stopProgress();
    if (this.takenOver()) return this.stopLockLost(error);
    if (job && isFinished(job.manifest.status)) return this.releaseFinished(error, e);
    // Without a job.json there is nothing to mark failed: let the platform try again.
    if (ERROR_POLICY[error.kind].retry || !job) return this.releaseForRetry(error);
    return this.recordFailure(job, error);
  }

  /** The lock was taken over by another worker (the heartbeat or a fence found out). */
  private takenOver(): boolean {
    return this.lost.aborted && (this.lost.reason as NstError).kind === 'aborted';
  }

  private stopLockLost(error: NstError): JobOutcome {
    this.log.warn('job lock taken over by another worker: stopped, nothing written', {
      error: error.message,
    });
    return { jobId: this.jobId, status: 'skipped', detail: 'lock lost' };
  }

  /**
   * A job whose result and manifest are written stays finished: an error after that (the notification or
   * the lock's final write, say) must not turn it into a failed job or announce it twice. The retry
   * closes it, so an error the policy would not retry is retried as JOB_NOT_CLOSED.
   */
  private async releaseFinished(error: NstError, thrown: unknown): Promise<never> {
    this.log.error('error after the job finished: the manifest stands', {
      code: error.code,
      error: error.message,
    });
    await this.release();
    if (ERROR_POLICY[error.kind].retry) throw error;
    throw new NstError('JOB_NOT_CLOSED', `${error.code}: ${error.message}`, { cause: thrown });
  }

  private async releaseForRetry(error: NstError): Promise<never> {
    this.log.error('transient failure: the job is released for a retry', {
      code: error.code,
      error: error.message,
    });
    await this.release();
    throw error;
  }

  /** The job's `fail` transition; if its writes fail, the job is released for a retry. */
  private async recordFailure(job: JobLifecycle, error: NstError): Promise<JobOutcome> {
    try {
      return await job.fail(error);
    } catch (writeError) {
      if (this.takenOver()) return this.stopLockLost(toNstError(writeError));
      await this.release();
      throw toNstError(writeError);
    }
  }

  /** Gives the lock up at once (best effort: its lease runs out anyway). */
  private async release(): Promise<void> {
    await this.lock.handOff(undefined, 0).catch(() => {});
  }
}
