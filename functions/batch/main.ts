/**
 * The AWS Batch GPU worker: runs one job, named by NST_BUCKET and NST_JOB_ID (set by the Lambda's
 * SubmitJob). The spec comes from outputs/<jobId>/job.json and, after a Lambda deadline, the run continues
 * from outputs/<jobId>/checkpoint.json. It takes the job lock like any worker, so a duplicate submission
 * does not run the job twice.
 *
 * Exit codes: 0 when the job ended (succeeded, or failed for a reason retrying cannot fix: job.json says
 * which), 1 on a transient failure (Batch retries per the job definition; a final FAILED state reaches the
 * Lambda, which marks the job failed), 2 when the environment is wrong.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import { isNstError } from '../../src/errors.js';
import { BATCH_JOB_ENV, type PipelineConfig, readPipelineConfig } from '../../src/jobs/config.js';
import { continueJob } from '../../src/jobs/intake/entry-points.js';
import type { WorkerDeps } from '../../src/jobs/run/run-context.js';
import { JOB_ID_PATTERN } from '../../src/jobs/spec/job-id.js';
import { buildWorkerDeps, serviceNameFrom } from '../../src/jobs/wiring/build-deps.js';
import { createSdkS3Client } from '../../src/storage/s3-client.js';

/** The worker's exit codes (see the file comment). */
const EXIT = { ended: 0, transient: 1, badEnvironment: 2 } as const;

export interface BatchWorkerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly s3?: S3Client;
  readonly sns?: SNSClient;
  readonly eventBridge?: EventBridgeClient;
  readonly sfn?: SFNClient;
  readonly logger?: Logger;
  readonly createEngine?: WorkerDeps['createEngine'];
}

export async function runBatchWorker(opts: BatchWorkerOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const logger = opts.logger ?? new Logger({ serviceName: serviceNameFrom(env) });
  const bucket = env[BATCH_JOB_ENV.bucket];
  const jobId = env[BATCH_JOB_ENV.jobId];
  if (!bucket || !jobId || !JOB_ID_PATTERN.test(jobId)) {
    logger.error(`${BATCH_JOB_ENV.bucket} and ${BATCH_JOB_ENV.jobId} must name the job to run`, {
      bucket,
      jobId,
    });
    return EXIT.badEnvironment;
  }
  let config: PipelineConfig;
  try {
    config = readPipelineConfig(env);
  } catch (error) {
    logger.error('the worker environment is invalid', { error: (error as Error).message });
    return EXIT.badEnvironment;
  }
  const deps = buildWorkerDeps({
    config,
    worker: 'batch',
    gpu: true,
    s3: opts.s3 ?? createSdkS3Client(env),
    sns: opts.sns,
    eventBridge: opts.eventBridge,
    sfn: opts.sfn,
    logger,
    createEngine: opts.createEngine,
  });
  const owner = `batch:${env.AWS_BATCH_JOB_ID ?? randomUUID()}`;
  try {
    const outcome = await continueJob(deps, { owner }, { bucket, jobId }, 'batch');
    logger.info('batch worker done', { jobId, outcome });
    return EXIT.ended;
  } catch (e) {
    logger.error('batch worker failed: transient, Batch may retry', {
      jobId,
      code: isNstError(e) ? e.code : undefined,
      error: (e as Error).message,
    });
    return EXIT.transient;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runBatchWorker();
}
