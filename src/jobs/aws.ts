/**
 * The pipeline's AWS side: Batch submission and self-invocation for hand-offs, Powertools metrics, and the
 * weights cache that outlives an invocation (a warm Lambda or a long-lived local server loads them once).
 */

import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { VggWeights } from '../engine/types.js';
import { NstError } from '../errors.js';
import { loadWeights } from '../weights/store.js';
import { BATCH_JOB_PREFIX } from './handler.js';
import type { Dispatcher, JobMetrics } from './runner.js';

const transient = (what: string, cause: unknown) =>
  new NstError('DISPATCH_FAILED', `${what}: ${(cause as Error).message}`, { cause });

/** The SubmitJob request for a job: the worker finds everything else in outputs/<jobId>/job.json. */
export function submitJobInput(
  bucket: string,
  jobId: string,
  batch: { jobQueue: string; jobDefinition: string },
) {
  return {
    jobName: `${BATCH_JOB_PREFIX}${jobId}`,
    jobQueue: batch.jobQueue,
    jobDefinition: batch.jobDefinition,
    parameters: { NST_BUCKET: bucket, NST_JOB_ID: jobId },
    containerOverrides: {
      environment: [
        { name: 'NST_BUCKET', value: bucket },
        { name: 'NST_JOB_ID', value: jobId },
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

/** An asynchronous invocation of this function that continues the job. */
export function continuationDispatch(client: LambdaClient, functionArn: string): Dispatcher['continuation'] {
  return async (bucket, jobId) => {
    try {
      await client.send(
        new InvokeCommand({
          FunctionName: functionArn,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify({ nstContinuation: { bucket, jobId } })),
        }),
      );
    } catch (e) {
      throw transient(`cannot invoke ${functionArn} to continue ${jobId}`, e);
    }
  };
}

/** EMF metrics: job duration, iterations per second, successes and failures (by error code in metadata). */
export function powertoolsMetrics(metrics: Metrics): JobMetrics {
  return {
    succeeded({ seconds, iterations }) {
      metrics.addMetric('JobSucceeded', MetricUnit.Count, 1);
      metrics.addMetric('JobDuration', MetricUnit.Seconds, seconds);
      if (seconds > 0)
        metrics.addMetric('IterationsPerSecond', MetricUnit.CountPerSecond, iterations / seconds);
    },
    failed(code) {
      metrics.addMetric('JobFailed', MetricUnit.Count, 1);
      metrics.addMetadata('errorCode', code);
    },
  };
}

const weightsCache = new Map<string, Promise<VggWeights>>();

/** The weights in `dir`, loaded once per process; a failed load is retried next time. */
export function cachedWeights(dir: string): Promise<VggWeights> {
  let weights = weightsCache.get(dir);
  if (!weights) {
    weights = loadWeights(dir);
    weightsCache.set(dir, weights);
    weights.catch(() => weightsCache.delete(dir));
  }
  return weights;
}
