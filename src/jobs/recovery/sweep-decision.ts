/**
 * What the sweeper does with one job (decideSweep), and which jobs it reads (sweepCandidates): pure
 * functions of job.json, lock.json, the object listing, the clock and the deployment's limits.
 */
import type { PipelineConfig } from '../config.js';
import { BATCH_JOB_ATTEMPTS } from '../deployment.js';
import type { LockRecord } from '../lifecycle/lock.js';
import { isFinished, type JobManifest } from '../lifecycle/manifest.js';
import { outputObjectOf } from '../spec/keys.js';

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
  // A tiles' execution holds the lock for as long as it may run (TILES_HANDOFF_SECONDS): once that lapsed,
  // its last step's sign of life is old, and the execution is over.
  if (manifest.tiles)
    return { seconds: budgets.lambda, runs: `in its tiles' execution (${manifest.tiles.executionArn})` };
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
  // When each job's job.json and its latest result were last written.
  const written = new Map<string, { manifestAt?: number; resultAt?: number }>();
  for (const { key, lastModified } of objects) {
    const output = outputObjectOf(key);
    if (!output || output.object === 'other') continue;
    const job = written.get(output.jobId) ?? {};
    if (output.object === 'manifest') job.manifestAt = lastModified.getTime();
    else job.resultAt = Math.max(job.resultAt ?? 0, lastModified.getTime());
    written.set(output.jobId, job);
  }
  const stale = [...written]
    .flatMap(([jobId, { manifestAt, resultAt }]) =>
      manifestAt !== undefined && manifestAt <= cutoff.getTime() && (resultAt ?? Infinity) > manifestAt
        ? [{ jobId, manifestAt }]
        : [],
    )
    .sort((a, b) => b.manifestAt - a.manifestAt)
    .map(({ jobId }) => jobId);
  if (stale.length <= max) return stale;
  const newest = stale.slice(0, Math.ceil(max / 2));
  const older = stale.slice(newest.length);
  const size = max - newest.length;
  const start = (turn * size) % older.length;
  return [...newest, ...[...older, ...older].slice(start, start + size)];
}
