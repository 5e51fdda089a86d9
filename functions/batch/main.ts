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
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { isNstError } from '../../src/errors.js';
import { cachedWeights } from '../../src/jobs/aws.js';
import { readPipelineConfig } from '../../src/jobs/config.js';
import { JOB_ID_PATTERN } from '../../src/jobs/job-id.js';
import { LogNotifier, SnsNotifier } from '../../src/jobs/notifier.js';
import { continueJob, type PipelineDeps } from '../../src/jobs/runner.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { resolveWeightsDir } from '../../src/weights/lookup.js';

export interface BatchWorkerOptions {
  readonly env?: Record<string, string | undefined>;
  readonly s3?: S3Client;
  readonly sns?: SNSClient;
  readonly logger?: Logger;
  readonly createEngine?: PipelineDeps['createEngine'];
}

export async function runBatchWorker(opts: BatchWorkerOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const logger =
    opts.logger ?? new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'serverless-style-transfer' });
  const bucket = env.NST_BUCKET;
  const jobId = env.NST_JOB_ID;
  if (!bucket || !jobId || !JOB_ID_PATTERN.test(jobId)) {
    logger.error('NST_BUCKET and NST_JOB_ID must name the job to run', { bucket, jobId });
    return 2;
  }
  let config: ReturnType<typeof readPipelineConfig>;
  try {
    config = readPipelineConfig(env);
  } catch (error) {
    logger.error('the worker environment is invalid', { error: (error as Error).message });
    return 2;
  }
  const s3 = opts.s3 ?? new S3Client({});
  const deps: PipelineDeps = {
    config,
    storeFor: (b) => new ObjectStore(s3, b),
    loadWeights: () => cachedWeights(resolveWeightsDir({ env: { NST_WEIGHTS_DIR: config.weightsDir } })),
    notifier: config.topicArn
      ? new SnsNotifier(opts.sns ?? new SNSClient({}), config.topicArn)
      : new LogNotifier(logger),
    logger,
    dispatch: {},
    worker: 'batch',
    gpu: true,
    createEngine: opts.createEngine,
  };
  const owner = `batch:${env.AWS_BATCH_JOB_ID ?? randomUUID()}`;
  try {
    const outcome = await continueJob(deps, { owner }, { bucket, jobId }, 'batch');
    logger.info('batch worker done', { jobId, outcome });
    return 0;
  } catch (e) {
    logger.error('batch worker failed: transient, Batch may retry', {
      jobId,
      code: isNstError(e) ? e.code : undefined,
      error: (e as Error).message,
    });
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runBatchWorker();
}
