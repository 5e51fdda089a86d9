/**
 * The sweeper, the backstop that gives every job a terminal state whatever happened to its worker. The
 * sweep (`{ "nstSweep": { "bucket" } }` from an EventBridge schedule in AWS; `nst serve` at start-up and on
 * a timer) lists the bucket's job.json files and, for each job still `queued` or `running` whose lock lease
 * has lapsed and whose time budget has run out, either resumes it from its checkpoint (a continuation,
 * the same dispatch as a deadline's) or ends it `failed` with JOB_ABANDONED and a notification.
 *
 * The decision (decideSweep, sweep-decision.ts) is a pure function of job.json, lock.json and the clock; acting on it takes
 * the job's lock like any worker, so concurrent sweeps, a late retry and the dead-letter consumer cannot
 * both end a job: whoever wins the lock does, the others see a held or done lock and leave it. Work per
 * sweep is bounded (SWEEP_LIMITS).
 */
import { NstError } from '../../errors.js';
import { SWEEP_PERIOD_MINUTES } from '../deployment.js';
import type { LockRecord } from '../lifecycle/lock.js';
import { type Invocation, type JobOutcome, withLockedJob } from '../lifecycle/locked-job.js';
import type { JobManifest } from '../lifecycle/manifest.js';
import type { WorkerDeps } from '../run/run-context.js';
import { KEY_PREFIXES, outputKeys } from '../spec/keys.js';
import { decideSweep, type SweepDecision, sweepBudgets, sweepCandidates } from './sweep-decision.js';

const SWEEP_PERIOD_MS = SWEEP_PERIOD_MINUTES * 60_000;

const SWEEP_LIMITS = {
  /** job.json files read per sweep (the newest candidates first). */
  maxReads: 500,
  /** Jobs resumed or failed per sweep; the next sweep takes the rest. */
  maxJobs: 20,
  readConcurrency: 8,
} as const;

export interface SweepOptions {
  /** Whether a lock's owner is a live worker of this process (local mode). */
  readonly isLive?: (owner: string) => boolean;
  readonly limits?: Partial<Record<keyof typeof SWEEP_LIMITS, number>>;
}

/** One sweep of a bucket; returns what it did to each job it acted on. */
export async function sweepJobs(
  deps: WorkerDeps,
  inv: Invocation,
  bucket: string,
  opts: SweepOptions = {},
): Promise<JobOutcome[]> {
  const limits = { ...SWEEP_LIMITS, ...opts.limits };
  const store = deps.storeFor(bucket);
  const now = deps.now?.() ?? new Date();
  const where = deps.worker === 'local' ? 'local' : 'aws';
  const budgets = sweepBudgets(deps.config);
  const minBudget = where === 'local' ? budgets.local : Math.min(budgets.lambda, budgets.batch);
  const cutoff = new Date(now.getTime() - minBudget * 1000);
  const turn = Math.floor(now.getTime() / SWEEP_PERIOD_MS);
  const jobIds = sweepCandidates(
    await store.listObjects(KEY_PREFIXES.outputs),
    cutoff,
    limits.maxReads,
    turn,
  );
  const jobs = await mapLimited(jobIds, limits.readConcurrency, async (jobId) => {
    const keys = outputKeys(jobId);
    try {
      const manifest = (await store.getJson<JobManifest>(keys.manifest))?.value;
      const lock = (await store.getJson<LockRecord>(keys.lock))?.value;
      return { jobId, manifest, lock };
    } catch (e) {
      deps.logger.error('sweep: cannot read the job', { jobId, error: (e as Error).message });
      return { jobId };
    }
  });
  const outcomes: JobOutcome[] = [];
  for (const { jobId, manifest, lock } of jobs) {
    if (!manifest) continue;
    const decision = decideSweep({
      manifest,
      lock,
      now,
      where,
      isLive: opts.isLive,
      canResume: Boolean(deps.dispatch.continuation),
      maxContinuations: deps.config.maxContinuations,
      budgets,
    });
    if (decision.action === 'leave') continue;
    if (outcomes.length >= limits.maxJobs) {
      deps.logger.info('sweep: limit reached, the next sweep continues', { maxJobs: limits.maxJobs });
      break;
    }
    outcomes.push(await sweepJob(deps, inv, { bucket, jobId }, manifest, decision));
  }
  deps.logger.info('sweep done', { bucket, read: jobs.length, acted: outcomes.length });
  return outcomes;
}

/** Resumes or fails one job under its lock, if it is still as the sweep saw it. */
async function sweepJob(
  deps: WorkerDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string },
  seen: JobManifest,
  decision: Exclude<SweepDecision, { action: 'leave' }>,
): Promise<JobOutcome> {
  try {
    return await withLockedJob(deps, inv, target, 'event', async (claim, existing) => {
      if (!existing || existing.history.length !== seen.history.length)
        return claim.skip('job.json changed since the sweep read it');
      const job = claim.open(existing);
      if (decision.action === 'fail') throw new NstError('JOB_ABANDONED', decision.message);
      const resume = deps.dispatch.continuation;
      if (!resume) throw new NstError('INTERNAL', 'a sweep resumed a job where no continuation can start');
      return await job.handOffToContinuation(
        `sweeper: ${decision.detail}`,
        () => resume(target.bucket, target.jobId),
        'resumed from its checkpoint',
      );
    });
  } catch (e) {
    // Released for a retry (S3, SNS or the dispatch failed): the next sweep tries again.
    deps.logger.error('sweep: the job could not be swept', {
      jobId: target.jobId,
      error: (e as Error).message,
    });
    return { jobId: target.jobId, status: 'skipped', detail: `sweep failed: ${(e as Error).message}` };
  }
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
