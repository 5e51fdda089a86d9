/**
 * Handing a job to another worker: to AWS Batch (routed there, or at a deadline when Batch is configured),
 * or to a new invocation of this Lambda at a deadline, from a checkpoint in S3. The job's status becomes
 * `queued` and the lock is handed to the claimant, which may take it for a while before anyone else may.
 */
import type { Checkpoint } from '../../engine/stylize.js';
import { NstError } from '../../errors.js';
import type { JobOutcome, JobRun } from '../lifecycle/locked-job.js';
import { saveCheckpoint } from './checkpoint.js';

/**
 * How long a hand-off to a continuation (a new invocation, or the sweeper's resume) waits for its claimant
 * before anyone may take the job over.
 */
export const CONTINUATION_HANDOFF_SECONDS = 120;
/** Batch jobs can wait in the queue for GPU capacity. */
const BATCH_HANDOFF_SECONDS = 6 * 3600;

export async function handOffToBatch(job: JobRun, why: string): Promise<JobOutcome> {
  // Submit first: if it fails, the error is transient and the event's retry finds the job still ours to give.
  const submitted = await job.deps.dispatch.batch!(job.store.bucket, job.jobId);
  await job.record('queued', `AWS Batch job ${submitted.jobId}: ${why}`, { batch: submitted });
  await job.lock.handOff('batch', BATCH_HANDOFF_SECONDS);
  return { jobId: job.jobId, status: 'queued', detail: `batch ${submitted.jobId}` };
}

/** Checkpoints the run that stopped at the deadline and continues it on Batch or in a new invocation. */
export async function handOffAtDeadline(job: JobRun, checkpoint: Checkpoint): Promise<JobOutcome> {
  const { deps } = job;
  const { continuations } = job.manifest!;
  if (!deps.dispatch.batch && continuations >= deps.config.maxContinuations) {
    throw new NstError(
      'JOB_TOO_LARGE',
      `the job did not finish in ${continuations + 1} Lambda invocations: lower size or iterations, ` +
        'or configure the AWS Batch queue for large jobs',
    );
  }
  await checkpointAtDeadline(job, checkpoint);
  const at = `scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`;
  if (deps.dispatch.batch) return handOffToBatch(job, `deadline at ${at}`);
  if (!deps.dispatch.continuation) throw new NstError('INTERNAL', 'a deadline without a way to continue');
  await job.record('queued', `deadline: continues in a new invocation from ${at}`, {
    continuations: continuations + 1,
  });
  await deps.dispatch.continuation(job.store.bucket, job.jobId);
  await job.lock.handOff('continuation', CONTINUATION_HANDOFF_SECONDS);
  return { jobId: job.jobId, status: 'queued', detail: `continuation from ${at}` };
}

/** Saves the checkpoint to S3 and notes it in the manifest (written with the next status). */
async function checkpointAtDeadline(job: JobRun, checkpoint: Checkpoint): Promise<void> {
  const savedAt = job.now();
  await job.lock.fence(); // a worker that lost its lease writes no checkpoint (lock.ts)
  await saveCheckpoint(job.store, job.jobId, checkpoint, savedAt);
  job.manifest = {
    ...job.manifest!,
    checkpoint: {
      scaleIndex: checkpoint.scaleIndex,
      iteration: checkpoint.iteration,
      savedAt: savedAt.toISOString(),
    },
  };
  job.log.info('deadline near: checkpointed', {
    scaleIndex: checkpoint.scaleIndex,
    iteration: checkpoint.iteration,
  });
}
