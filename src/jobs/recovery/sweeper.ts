/**
 * The sweeper, the backstop that gives every job a terminal state whatever happened to its worker. The
 * sweep (`{ "nstSweep": { "bucket" } }` from an EventBridge schedule in AWS; `nst serve` at start-up and on
 * a timer) lists the bucket's job.json files and, for each job still `queued` or `running` whose lock lease
 * has lapsed and whose time budget has run out, either resumes it from its checkpoint (a continuation,
 * the same dispatch as a deadline's) or ends it `failed` with JOB_ABANDONED and a notification.
 *
 * The decision (decideSweep) is a pure function of job.json, lock.json and the clock; acting on it takes
 * the job's lock like any worker, so concurrent sweeps, a late retry and the dead-letter consumer cannot
 * both end a job: whoever wins the lock does, the others see a held or done lock and leave it. Work per
 * sweep is bounded (SWEEP_LIMITS).
 */
import { NstError } from '../../errors.js';
import { BATCH_JOB_ATTEMPTS, type PipelineConfig } from '../config.js';
import { SWEEP_PERIOD_MINUTES } from '../intake/events.js';
import type { LockRecord } from '../lifecycle/lock.js';
import { type Invocation, type JobOutcome, withLockedJob } from '../lifecycle/locked-job.js';
import { isFinished, type JobManifest } from '../lifecycle/manifest.js';
import { CONTINUATION_HANDOFF_SECONDS } from '../run/hand-off.js';
import { KEY_PREFIXES, outputKeys } from '../spec/keys.js';
import type { PipelineDeps } from '../wiring/pipeline-deps.js';

const SWEEP_PERIOD_MS = SWEEP_PERIOD_MINUTES * 60_000;

const SWEEP_LIMITS = {
  /** job.json files read per sweep (the newest candidates first). */
  maxReads: 500,
  /** Jobs resumed or failed per sweep; the next sweep takes the rest. */
  maxJobs: 20,
  readConcurrency: 8,
} as const;

/** Waited out beyond a worker's own limits: Lambda's retry delays (1 and 2 minutes) and one sweep period. */
const LAMBDA_MARGIN_SECONDS = 300;
/** Waited out beyond Batch's own limits: its FAILED event reaching the function, and one sweep period. */
const BATCH_MARGIN_SECONDS = 600;

/** Seconds after its last sign of life that a job is swept, by where it runs. */
export interface SweepBudgets {
  readonly lambda: number;
  readonly batch: number;
  readonly local: number;
}

/**
 * How long after its last sign of life (a status change or a lock renewal) a job whose lease lapsed is
 * swept, by where it runs, from the deployment's own limits. A lease can lapse under a live worker
 * (onnxruntime runs an evaluation synchronously, and the heartbeat waits for it), so the lease alone does
 * not prove a worker dead:
 * - lambda: no invocation outlives the function's timeout;
 * - batch (the job went to AWS Batch): Batch ends its own jobs (the FAILED event, BATCH_NO_CAPACITY after
 *   the RUNNABLE limit), so the sweeper steps in only once every attempt could have waited RUNNABLE and run
 *   its full timeout;
 * - local: the server knows which jobs its own workers hold (`isLive`), so a lapsed lease is enough.
 */
export function sweepBudgets(
  config: Pick<
    PipelineConfig,
    'functionTimeoutSeconds' | 'batchTimeoutSeconds' | 'batchRunnableTimeoutSeconds'
  >,
): SweepBudgets {
  const batchAttempt = config.batchRunnableTimeoutSeconds + config.batchTimeoutSeconds;
  return {
    lambda: config.functionTimeoutSeconds + LAMBDA_MARGIN_SECONDS,
    batch: BATCH_JOB_ATTEMPTS * batchAttempt + BATCH_MARGIN_SECONDS,
    local: 0,
  };
}

export type SweepDecision =
  | { readonly action: 'leave'; readonly reason: string }
  | { readonly action: 'resume'; readonly detail: string }
  | { readonly action: 'fail'; readonly message: string };

export interface SweepFacts {
  readonly manifest: JobManifest;
  readonly lock?: LockRecord;
  readonly now: Date;
  /** Where the sweep runs: AWS (Lambda and Batch workers) or the local server. */
  readonly where: 'aws' | 'local';
  /** Whether a lock's owner is a live worker of this process (local mode). */
  readonly isLive?: (owner: string) => boolean;
  /** A continuation can be dispatched from here. */
  readonly canResume: boolean;
  readonly maxContinuations: number;
  readonly budgets: SweepBudgets;
}

const leave = (reason: string): SweepDecision => ({ action: 'leave', reason });

function budgetFor({ manifest, where, budgets }: SweepFacts) {
  if (where === 'local') return { seconds: budgets.local, runs: 'locally' };
  if (manifest.batch) return { seconds: budgets.batch, runs: `on AWS Batch (${manifest.batch.jobId})` };
  return { seconds: budgets.lambda, runs: 'in Lambda' };
}

/** What the sweeper does with one job. */
export function decideSweep(facts: SweepFacts): SweepDecision {
  const { manifest: m, lock, now } = facts;
  if (isFinished(m.status)) return leave('finished');
  if (lock?.state === 'done') return leave('its lock is done');
  if (lock && Date.parse(lock.leaseExpiresAt) > now.getTime())
    return leave(`its lease runs until ${lock.leaseExpiresAt}`);
  if (lock && facts.isLive?.(lock.owner)) return leave('a live worker of this server holds it');
  const lastSign = Math.max(
    Date.parse(m.history.at(-1)?.at ?? m.timings.createdAt),
    lock ? Date.parse(lock.updatedAt) : 0,
  );
  const budget = budgetFor(facts);
  const idle = (now.getTime() - lastSign) / 1000;
  if (idle < budget.seconds)
    return leave(`within its time budget (${Math.round(idle)} of ${budget.seconds} s)`);
  const stopped =
    `its worker stopped: no sign of it since ${new Date(lastSign).toISOString()} ` +
    `(status ${m.status}, ${budget.runs})`;
  const checkpoint = m.checkpoint;
  if (checkpoint && m.spec && facts.canResume && m.continuations < facts.maxContinuations) {
    const at = `scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`;
    return { action: 'resume', detail: `${stopped}; resumes from its checkpoint at ${at}` };
  }
  const why = !checkpoint
    ? 'no checkpoint to resume from'
    : !facts.canResume || !m.spec
      ? 'its checkpoint cannot be resumed here'
      : `its checkpoint was not resumed: ${m.continuations} continuations already`;
  return { action: 'fail', message: `${stopped}; abandoned by the sweeper, ${why}` };
}

/**
 * The jobs worth reading: a job.json last written before `cutoff` (a newer one cannot be stale yet), in a
 * folder without a result written before it (a result then job.json is a job that succeeded). Half of
 * `max` are the newest, so a job that just became stale is read even when old failed jobs abound; the other
 * half walk the older ones a window per `turn` (one turn a sweep), so no stuck job is starved for ever.
 */
export function sweepCandidates(
  objects: readonly { key: string; lastModified: Date }[],
  cutoff: Date,
  max: number,
  turn = 0,
): string[] {
  const dirs = new Map<string, { manifest?: number; result?: number }>();
  for (const { key, lastModified } of objects) {
    const match = /^outputs\/([^/]+)\/(job\.json|result\.[^/]+)$/.exec(key);
    if (!match) continue;
    const dir = dirs.get(match[1]) ?? {};
    if (match[2] === 'job.json') dir.manifest = lastModified.getTime();
    else dir.result = Math.max(dir.result ?? 0, lastModified.getTime());
    dirs.set(match[1], dir);
  }
  const stale = [...dirs]
    .filter(([, d]) => d.manifest !== undefined && d.manifest <= cutoff.getTime())
    .filter(([, d]) => d.result === undefined || d.result > d.manifest!)
    .sort(([, a], [, b]) => b.manifest! - a.manifest!)
    .map(([jobId]) => jobId);
  if (stale.length <= max) return stale;
  const newest = stale.slice(0, Math.ceil(max / 2));
  const older = stale.slice(newest.length);
  const size = max - newest.length;
  const start = (turn * size) % older.length;
  return [...newest, ...[...older, ...older].slice(start, start + size)];
}

export interface SweepOptions {
  /** Whether a lock's owner is a live worker of this process (local mode). */
  readonly isLive?: (owner: string) => boolean;
  readonly limits?: Partial<Record<keyof typeof SWEEP_LIMITS, number>>;
}

/** One sweep of a bucket; returns what it did to each job it acted on. */
export async function sweepJobs(
  deps: PipelineDeps,
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
  deps: PipelineDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string },
  seen: JobManifest,
  decision: Exclude<SweepDecision, { action: 'leave' }>,
): Promise<JobOutcome> {
  try {
    return await withLockedJob(deps, inv, target, 'event', async (job, existing) => {
      if (!existing || existing.history.length !== seen.history.length)
        return job.skip('job.json changed since the sweep read it');
      job.manifest = existing;
      if (decision.action === 'fail') throw new NstError('JOB_ABANDONED', decision.message);
      await job.record('queued', `sweeper: ${decision.detail}`, {
        continuations: existing.continuations + 1,
      });
      await deps.dispatch.continuation!(target.bucket, target.jobId);
      await job.lock.handOff('continuation', CONTINUATION_HANDOFF_SECONDS);
      return { jobId: target.jobId, status: 'queued', detail: 'resumed from its checkpoint' };
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
