/**
 * One job under its lock. withLockedJob() takes the lock (a duplicate or concurrent delivery stops here),
 * keeps it alive, finishes a job that finished without closing, runs the body, and ends every failure by
 * the error policy (ERROR_POLICY in src/errors.ts):
 * - no retry (input and internal errors: bad image, bad spec, missing style, too large, bugs): job.json
 *   `failed` with the code, a failure notification, and a normal return, because retrying cannot help;
 * - retry (transient and aborted errors: S3, SNS, network): the lock is released and the error is rethrown
 *   so the platform retries (and, after its retries, puts the event in the dead-letter queue);
 * - a lost lock (taken over by another worker): stop without writing anything.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { ERROR_POLICY, type ErrorCode, NstError, toNstError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { outputKeys } from '../spec/keys.js';
import type { PipelineDeps } from '../wiring/pipeline-deps.js';
import { acquireLock, type Claimant, type JobLock } from './lock.js';
import { forStorage, isFinished, type JobManifest, transition } from './manifest.js';
import { notificationFor } from './notifier.js';

/** One invocation of a handler. */
export interface Invocation {
  /** Who holds locks taken in this invocation (the request id). */
  readonly owner: string;
  /** The Lambda context; absent where there is no deadline (Batch, local). */
  readonly deadline?: { getRemainingTimeInMillis(): number };
}

export interface JobOutcome {
  readonly jobId?: string;
  readonly key?: string;
  readonly status: 'succeeded' | 'failed' | 'queued' | 'skipped';
  readonly detail?: string;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
}

/** The work on a locked job, given its job.json when there is one. */
type JobBody = (job: JobRun, existing: JobManifest | undefined) => Promise<JobOutcome>;

export async function withLockedJob(
  deps: PipelineDeps,
  inv: Invocation,
  target: { readonly bucket: string; readonly jobId: string },
  claimant: Claimant,
  body: JobBody,
  /** How long to wait for a held lock's lease (default: none for events, a lease for hand-offs). */
  waitSeconds?: number,
): Promise<JobOutcome> {
  const { jobId } = target;
  const store = deps.storeFor(target.bucket);
  const log = deps.logger.createChild({ persistentKeys: { jobId } });
  const acquired = await acquireLock(store, {
    jobId,
    key: outputKeys(jobId).lock,
    owner: inv.owner,
    claimant,
    leaseSeconds: deps.config.leaseSeconds,
    // A continuation may start before its predecessor handed over; a dead holder's lease ends by then.
    waitSeconds: waitSeconds ?? (claimant === 'event' ? 0 : deps.config.leaseSeconds + 5),
    now: deps.now,
  });
  if (!acquired.acquired) {
    log.info('duplicate or concurrent delivery: job not run again', {
      reason: acquired.reason,
      holder: acquired.record.owner,
    });
    return { jobId, status: 'skipped', detail: acquired.reason };
  }
  const job = new JobRun(deps, inv, store, jobId, acquired.lock, log);
  acquired.lock.keepAlive((reason) => job.lost.abort(reason));
  try {
    return await runLocked(job, body);
  } catch (e) {
    return await job.failed(e);
  } finally {
    acquired.lock.stop();
  }
}

async function runLocked(job: JobRun, body: JobBody): Promise<JobOutcome> {
  const existing = (await job.store.getJson<JobManifest>(job.keys.manifest))?.value;
  if (existing && isFinished(existing.status)) {
    // Finished, but the lock was not marked done (a notification or the lock write failed): finish that.
    job.manifest = existing;
    return job.announce({ jobId: job.jobId, status: 'skipped', detail: 'finished' });
  }
  return body(job, existing);
}

/** The state of one job while this worker holds its lock. */
export class JobRun {
  manifest?: JobManifest;
  /** Aborted when the lock is lost (taken over, or not renewable): stop without writing anything. */
  readonly lost = new AbortController();
  readonly keys: ReturnType<typeof outputKeys>;

  constructor(
    readonly deps: PipelineDeps,
    readonly inv: Invocation,
    readonly store: ObjectStore,
    readonly jobId: string,
    readonly lock: JobLock,
    readonly log: Logger,
  ) {
    this.keys = outputKeys(jobId);
  }

  now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** Writes job.json, fenced by the lock (lock.ts): a worker that lost the lock writes nothing. */
  async save(): Promise<void> {
    await this.lock.fence();
    await this.store.putJson(this.keys.manifest, forStorage(this.manifest!));
  }

  /** Records a status change in job.json (and the log). */
  async record(
    status: JobManifest['status'],
    detail: string,
    changes: Partial<JobManifest> = {},
  ): Promise<void> {
    this.manifest = transition(this.manifest!, status, this.now(), detail, changes);
    await this.save();
    if (status === 'failed')
      this.log.warn('job failed', { detail, code: changes.error?.code, error: changes.error?.message });
    else this.log.info(`job ${status}`, { detail });
  }

  async skip(detail: string): Promise<JobOutcome> {
    this.log.warn('job skipped', { detail });
    await this.lock.handOff(undefined, 0);
    return { jobId: this.jobId, status: 'skipped', detail };
  }

  /** Notifies a finished job and marks the lock done: from here on every event is a duplicate. */
  async announce(outcome: JobOutcome): Promise<JobOutcome> {
    await this.deps.notifier.notify(notificationFor(this.manifest!));
    await this.lock.complete();
    return outcome;
  }

  /** Ends the job after an error, by the error policy (see the file comment). */
  async failed(e: unknown): Promise<JobOutcome> {
    const error = toNstError(e);
    if (this.takenOver()) return this.stopLockLost(error);
    if (this.manifest && isFinished(this.manifest.status)) return this.releaseFinished(error, e);
    // Without a job.json there is nothing to mark failed: let the platform try again.
    if (ERROR_POLICY[error.kind].retry || !this.manifest) return this.releaseForRetry(error);
    return this.recordFailure(error);
  }

  /** The lock was taken over by another worker (the heartbeat or a fence found out). */
  private takenOver(): boolean {
    return this.lost.signal.aborted && (this.lost.signal.reason as NstError).kind === 'aborted';
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

  /** job.json `failed` and a failure notification; if those writes fail, the job is released for a retry. */
  private async recordFailure(error: NstError): Promise<JobOutcome> {
    const failure = { code: error.code, message: error.message };
    try {
      this.deps.metrics?.failed(error.code);
      await this.removeResults();
      await this.record('failed', error.code, { error: failure });
      return await this.announce({ jobId: this.jobId, status: 'failed', error: failure });
    } catch (writeError) {
      if (this.takenOver()) return this.stopLockLost(toNstError(writeError));
      await this.release();
      throw toNstError(writeError);
    }
  }

  /**
   * A failed job has no result object: one a worker wrote before it died (job.json never written, so the
   * sweep or the dead-letter consumer fails the job) goes first. Fenced like every write.
   */
  private async removeResults(): Promise<void> {
    const results = await this.store.list(`${this.keys.dir}result.`);
    if (results.length === 0) return;
    await this.lock.fence();
    for (const key of results) await this.store.delete(key);
  }

  /** Gives the lock up at once (best effort: its lease runs out anyway). */
  private async release(): Promise<void> {
    await this.lock.handOff(undefined, 0).catch(() => {});
  }
}
