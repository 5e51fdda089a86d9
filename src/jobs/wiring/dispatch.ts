/**
 * The dispatchers a deployed worker uses (Dispatcher, run/run-context.ts): an AWS Batch job (the GPU
 * worker), the tiles' Step Functions execution, or a new invocation of this Lambda (after a deadline
 * checkpoint). A failed dispatch is transient:
 * the event's retry finds the job still ours.
 */
import { type BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { NstError } from '../../errors.js';
import { BATCH_JOB_ENV } from '../config.js';
import type { Dispatcher } from '../run/run-context.js';
import { executionNameFor, type TilesState } from '../tiled/execution.js';

/** The Batch job name of a pipeline job is this prefix and its job id. */
export const BATCH_JOB_PREFIX = 'nst-';

/** The event a continuation invocation receives. */
export interface ContinuationEvent {
  readonly nstContinuation: { readonly bucket: string; readonly jobId: string };
}

const transient = (what: string, cause: unknown) =>
  new NstError('DISPATCH_FAILED', `${what}: ${(cause as Error).message}`, { cause });

/** The SubmitJob request for a job: the worker finds everything else in outputs/<jobId>/job.json. */
function submitJobInput(bucket: string, jobId: string, batch: { jobQueue: string; jobDefinition: string }) {
  return {
    jobName: `${BATCH_JOB_PREFIX}${jobId}`,
    jobQueue: batch.jobQueue,
    jobDefinition: batch.jobDefinition,
    parameters: { [BATCH_JOB_ENV.bucket]: bucket, [BATCH_JOB_ENV.jobId]: jobId },
    containerOverrides: {
      environment: [
        { name: BATCH_JOB_ENV.bucket, value: bucket },
        { name: BATCH_JOB_ENV.jobId, value: jobId },
      ],
    },
  };
}

export function batchDispatch(
  client: BatchClient,
  batch: { jobQueue: string; jobDefinition: string },
): Dispatcher['batch'] {
  return async (bucket, jobId) => {
    try {
      const out = await client.send(new SubmitJobCommand(submitJobInput(bucket, jobId, batch)));
      return { jobId: out.jobId ?? 'unknown', jobQueue: batch.jobQueue };
    } catch (e) {
      throw transient(`cannot submit the AWS Batch job for ${jobId}`, e);
    }
  };
}

/** Starts the job's tiles' execution (src/jobs/tiled): its input names the job, its name the run. */
export function tilesDispatch(client: SFNClient, stateMachineArn: string): Dispatcher['tiles'] {
  return async (bucket, jobId, run) => {
    const input: TilesState = { bucket, jobId };
    try {
      const out = await client.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: executionNameFor(jobId, run),
          input: JSON.stringify(input),
        }),
      );
      return { executionArn: out.executionArn ?? 'unknown' };
    } catch (e) {
      throw transient(`cannot start the tiles' execution for ${jobId}`, e);
    }
  };
}

/** An asynchronous invocation of this function that continues the job. */
export function continuationDispatch(client: LambdaClient, functionArn: string): Dispatcher['continuation'] {
  return async (bucket, jobId) => {
    const event: ContinuationEvent = { nstContinuation: { bucket, jobId } };
    try {
      await client.send(
        new InvokeCommand({
          FunctionName: functionArn,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(event)),
        }),
      );
    } catch (e) {
      throw transient(`cannot invoke ${functionArn} to continue ${jobId}`, e);
    }
  };
}
