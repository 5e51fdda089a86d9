/**
 * Handing a job to another worker: to AWS Batch (routed there, or at a deadline when Batch is configured),
 * or to a new invocation of this Lambda at a deadline, from a checkpoint in S3. The job's lifecycle writes
 * the hand-off (status `queued`) and passes the lock to the claimant, which may take it for a while before
 * anyone else may.
 */
import type { Checkpoint } from '../../engine/stylize.js';
import { NstError } from '../../errors.js';
import { batchHandOffSeconds, TILES_HANDOFF_SECONDS } from '../deployment.js';
import type { JobOutcome } from '../lifecycle/locked-job.js';
import { saveCheckpoint } from './checkpoint.js';
import type { RunContext } from './run-context.js';

export function handOffToBatch({ claim, job, deps }: RunContext, why: string): Promise<JobOutcome> {
  const submit = deps.dispatch.batch;
  if (!submit) throw new NstError('INTERNAL', 'a hand-off to AWS Batch, which is not configured');
  return job.handOffToBatch(
    why,
    () => submit(claim.store.bucket, claim.jobId),
    batchHandOffSeconds(deps.config),
  );
}

/** Checkpoints the run that stopped at the deadline and continues it on Batch or in a new invocation. */
export async function handOffAtDeadline(
  run: RunContext,
  checkpoint: Checkpoint,
  iterations: number,
): Promise<JobOutcome> {
  const { claim, job, deps } = run;
  // The run's iterations count however the job goes on (also when it ends at the continuation limit).
  job.stopped(iterations);
  const { continuations } = job.manifest;
  if (!deps.dispatch.batch && continuations >= deps.config.maxContinuations) {
    throw new NstError(
      'JOB_TOO_LARGE',
      `the job did not finish in ${continuations + 1} Lambda invocations: lower size or iterations, ` +
        'or configure the AWS Batch queue for large jobs',
    );
  }
  await checkpointRun(run, checkpoint, 'deadline near');
  const at = `scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`;
  if (deps.dispatch.batch) return handOffToBatch(run, `deadline at ${at}`);
  const dispatch = deps.dispatch.continuation;
  if (!dispatch) throw new NstError('INTERNAL', 'a deadline without a way to continue');
  return job.handOffToContinuation(
    `deadline: continues in a new invocation from ${at}`,
    () => dispatch(claim.store.bucket, claim.jobId),
    `continuation from ${at}`,
  );
}

/**
 * Hands the job's tiled scales to their Step Functions execution (src/jobs/tiled), from the checkpoint at
 * the first of them, where this run stopped.
 */
export async function handOffToTiles(
  run: RunContext,
  checkpoint: Checkpoint,
  iterations: number,
): Promise<JobOutcome> {
  const { claim, job, deps } = run;
  const start = deps.dispatch.tiles;
  if (!start)
    throw new NstError('INTERNAL', 'a hand-off to the tiles, whose state machine is not configured');
  job.stopped(iterations);
  await checkpointRun(run, checkpoint, 'tiled scales next');
  const at = `scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`;
  return job.handOffToTiles(
    `tiled scales from ${at}`,
    () => start(claim.store.bucket, claim.jobId, job.manifest.runs),
    TILES_HANDOFF_SECONDS,
  );
}

/** Saves the checkpoint to S3; the lifecycle notes it (written with the hand-off). */
async function checkpointRun({ claim, job }: RunContext, checkpoint: Checkpoint, why: string): Promise<void> {
  const savedAt = claim.now();
  await claim.lock.fence(); // a worker that lost its lease writes no checkpoint (lock.ts)
  await saveCheckpoint(claim.store, claim.jobId, checkpoint, savedAt);
  job.checkpointed(checkpoint, savedAt);
  claim.log.info(`${why}: checkpointed`, {
    scaleIndex: checkpoint.scaleIndex,
    iteration: checkpoint.iteration,
  });
}
