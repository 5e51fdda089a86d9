/**
 * One job under its lock. withLockedJob() takes the lock (a duplicate or concurrent delivery stops here),
 * keeps it alive, closes a job that finished without closing, and runs the body with the claim
 * (job-claim.ts), which ends every failure by the error policy.
 */
import type { ErrorCode } from '../../errors.js';
import { outputKeys } from '../spec/keys.js';
import { JobClaim, type LifecycleDeps } from './job-claim.js';
import { acquireLock, type Claimant } from './lock.js';
import { isFinished, type JobManifest } from './manifest.js';

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

/** The work on a claimed job, given its job.json when there is one. */
type JobBody = (claim: JobClaim, existing: JobManifest | undefined) => Promise<JobOutcome>;

export async function withLockedJob(
  deps: LifecycleDeps,
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
  const claim = new JobClaim(deps, inv, store, jobId, acquired.lock, log);
  acquired.lock.keepAlive((reason) => claim.lose(reason));
  try {
    return await runClaimed(claim, body);
  } catch (e) {
    return await claim.failed(e);
  } finally {
    acquired.lock.stop();
  }
}

async function runClaimed(claim: JobClaim, body: JobBody): Promise<JobOutcome> {
  const existing = (await claim.store.getJson<JobManifest>(claim.keys.manifest))?.value;
  // Finished, but the lock was not marked done (a notification or the lock write failed): close it.
  if (existing && isFinished(existing.status)) return claim.open(existing).closeFinished();
  return body(claim, existing);
}
