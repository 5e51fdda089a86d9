/**
 * The pipeline's event handler, shared by the Lambda function and the local mode. It accepts (events.ts):
 * - S3 events (several records each): a job per ObjectCreated record;
 * - continuations `{ "nstContinuation": { "bucket", "jobId" } }` (a deadline, or the sweeper resuming a job);
 * - AWS Batch job state changes (EventBridge): a FAILED `nst-<jobId>` Batch job marks its job failed;
 * - the steps of a job's tiles' execution `{ "nstTiles": { "step", "state", "tile"? } }` (handleTilesStep),
 *   and that execution's end without success (EventBridge): its job fails with TILES_FAILED;
 * - dead letters (SQS records of the function's dead-letter queue): each job the original event named ends
 *   `failed` with JOB_ABANDONED, unless it finished;
 * - the sweep `{ "nstSweep": { "bucket" } }` (an EventBridge schedule): recovery/sweeper.ts;
 * - a job spec with a `taskToken`, invoked directly by a Step Functions task (`.waitForTaskToken`): the
 *   spec is written under jobs/, and that upload runs the job (entry-points.ts, submitWaitedJob).
 *
 * Records are processed in order. A transient failure of one record does not stop the others; it is
 * rethrown at the end so the platform retries the event, and the records that finished are then skipped
 * as duplicates by their locks.
 */
import type { S3Event } from 'aws-lambda';
import { isNstError, NstError, toNstError } from '../../errors.js';
import type { Invocation, JobOutcome } from '../lifecycle/locked-job.js';
import { sweepJobs } from '../recovery/sweeper.js';
import type { WorkerDeps } from '../run/run-context.js';
import { checkJobId, uploadJobId } from '../spec/job-id.js';
import { readTilesStep, type TilesState } from '../tiled/execution.js';
import { failTiledJob, failTiles, joinScale, prepareScale, reduceRound, runTile } from '../tiled/steps.js';
import { abandonJob, continueJob, failBatchJob, runUploadedJob, submitWaitedJob } from './entry-points.js';
import {
  type DeadLetterEvent,
  endedTilesExecution,
  failedBatchJob,
  isBatchStateChange,
  isContinuation,
  isDeadLetterEvent,
  isExecutionStatusChange,
  isS3Event,
  isSweep,
  isWaitedJob,
  jobsNamedBy,
  type NamedJob,
  readDeadLetter,
  uploadsIn,
} from './events.js';

export async function handleEvent(deps: WorkerDeps, inv: Invocation, event: unknown): Promise<JobOutcome[]> {
  if (isS3Event(event)) return handleS3Event(deps, inv, event);
  if (isContinuation(event)) {
    const { bucket, jobId } = event.nstContinuation;
    const checked = namedJobId(deps, () => checkJobId(jobId));
    return checked ? [await continueJob(deps, inv, { bucket, jobId: checked }, 'continuation')] : [];
  }
  if (isBatchStateChange(event)) {
    const failed = namedJobId(deps, () => failedBatchJob(event));
    return failed ? handleFailedBatchJob(deps, inv, failed) : [];
  }
  if (isExecutionStatusChange(event)) {
    const ended = namedJobId(deps, () => endedTilesExecution(event));
    if (!ended) return [];
    const error = new NstError('TILES_FAILED', ended.reason);
    const state = await failTiledJob(deps, inv, ended, ended.executionArn, error);
    return [
      { jobId: ended.jobId, status: state.next === 'failed' ? 'failed' : 'skipped', detail: ended.reason },
    ];
  }
  if (isDeadLetterEvent(event)) return handleDeadLetters(deps, inv, event);
  if (isSweep(event)) return sweepJobs(deps, inv, event.nstSweep.bucket);
  // Its caller is a Step Functions task: an error it cannot write its spec for is named by its code.
  if (isWaitedJob(event))
    return submitWaitedJob(deps, event).catch((e: unknown) => Promise.reject(namedByCode(e)));
  deps.logger.warn(
    'event ignored: not an S3, continuation, Batch, Step Functions, dead-letter or sweep event, nor a spec with a task token',
    {
      event,
    },
  );
  return [];
}

/** What a tiles step returns to its state: the execution's next state, or a tile's report. */
export type TilesStepResult = TilesState | Awaited<ReturnType<typeof runTile>>;

/**
 * One step of a job's tiles' execution (tiled/steps.ts). A step that fails throws an error named by its
 * code, so the state machine's Retry and Catch match on codes (a transient one is retried).
 */
export async function handleTilesStep(
  deps: WorkerDeps,
  inv: Invocation,
  event: unknown,
): Promise<TilesStepResult> {
  try {
    const { step, state, tile, execution } = readTilesStep(event);
    deps.logger.info(`tiles step: ${step}`, {
      jobId: state.jobId,
      scale: state.scale,
      round: state.round,
      tile,
    });
    switch (step) {
      case 'prepare':
        return await prepareScale(deps, inv, state, execution);
      case 'tile':
        if (tile === undefined) throw new NstError('INVALID_JOB_SPEC', 'a tile step without its tile');
        return await runTile(deps, state, tile, execution);
      case 'reduce':
        return await reduceRound(deps, inv, state, execution);
      case 'join':
        return await joinScale(deps, inv, state, execution);
      case 'fail':
        return await failTiles(deps, inv, state, execution);
    }
  } catch (e) {
    throw namedByCode(e);
  }
}

/** The error as Step Functions sees it: its name (Lambda's errorType) is its code. */
function namedByCode(e: unknown): Error {
  const error = toNstError(e);
  const named = new Error(error.message, { cause: e });
  named.name = error.code;
  return named;
}

/** Runs each item; a failure is logged and the first one rethrown after all have run (for a retry). */
async function eachRecord<T>(
  deps: WorkerDeps,
  items: readonly T[],
  describe: (item: T) => Record<string, unknown>,
  run: (item: T) => Promise<JobOutcome>,
): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  let transient: unknown;
  for (const item of items) {
    try {
      outcomes.push(await run(item));
    } catch (e) {
      deps.logger.error('record failed: the event will be retried', {
        ...describe(item),
        error: (e as Error).message,
        code: isNstError(e) ? e.code : undefined,
      });
      transient ??= e;
    }
  }
  if (transient) throw transient;
  return outcomes;
}

function handleS3Event(deps: WorkerDeps, inv: Invocation, event: S3Event): Promise<JobOutcome[]> {
  return eachRecord(
    deps,
    uploadsIn(event, deps.config.keyPrefix),
    (upload) => ({ key: upload.key }),
    (upload) => runUploadedJob(deps, inv, upload),
  );
}

/**
 * What an event names, or undefined when it names a bad job id: logged and dropped, since retrying the
 * event cannot make the id good (it would only be retried, dead-lettered and dropped there).
 */
function namedJobId<T>(deps: WorkerDeps, read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (!isNstError(e) || e.kind !== 'input') throw e;
    deps.logger.error('event names a bad job: dropped', { code: e.code, error: e.message });
    return undefined;
  }
}

async function handleFailedBatchJob(
  deps: WorkerDeps,
  inv: Invocation,
  failed: NonNullable<ReturnType<typeof failedBatchJob>>,
): Promise<JobOutcome[]> {
  const { bucket, ...rest } = failed;
  if (!bucket) {
    deps.logger.error('Batch event without its bucket: cannot mark the job failed', { jobId: failed.jobId });
    return [];
  }
  return [await failBatchJob(deps, inv, { bucket, ...rest })];
}

/**
 * Each dead letter names the jobs of its original event; each is abandoned under its lock. A message that
 * names no job (not JSON, a sweep, a bad job id) is logged and dropped: retrying it cannot help.
 */
function handleDeadLetters(deps: WorkerDeps, inv: Invocation, event: DeadLetterEvent): Promise<JobOutcome[]> {
  const jobs = event.Records.flatMap((record) => {
    const dead = readDeadLetter(record);
    const named = (dead && namedJobId(deps, () => jobsNamedBy(dead.event, deps.config.keyPrefix))) ?? [];
    if (named.length === 0)
      deps.logger.warn('dead letter names no job: dropped', { messageId: record.messageId });
    return named.map((job) => ({ job, dead: dead! }));
  });
  return eachRecord(
    deps,
    jobs,
    ({ job }) => ({ jobId: job.jobId }),
    async ({ job, dead }) => abandonJob(deps, inv, await withUploadJobId(deps, job), dead),
  );
}

/** A dead upload's job as its own event named it: a presigned upload's job has the id it was given. */
async function withUploadJobId(deps: WorkerDeps, job: NamedJob): Promise<NamedJob> {
  return job.upload ? { ...job, jobId: await uploadJobId(deps.storeFor(job.bucket), job.upload) } : job;
}
