/**
 * The stylize Lambda: S3 events (inputs/, jobs/), its own continuations and AWS Batch failure events, all
 * through the shared handler (src/jobs/handler.ts). Clients, configuration and the VGG-19 weights live at
 * module level, so a warm container reuses them. Logs are Powertools JSON with the job id on every job
 * line; metrics are EMF, flushed at the end of each invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchClient } from '@aws-sdk/client-batch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { batchDispatch, cachedWeights, continuationDispatch, powertoolsMetrics } from '../../src/jobs/aws.js';
import { readPipelineConfig } from '../../src/jobs/config.js';
import { handleEvent } from '../../src/jobs/handler.js';
import { LogNotifier, SnsNotifier } from '../../src/jobs/notifier.js';
import type { JobOutcome, PipelineDeps } from '../../src/jobs/runner.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { resolveWeightsDir } from '../../src/weights/lookup.js';

const SERVICE = 'serverless-style-transfer';

export interface StylizeFunctionOptions {
  readonly env?: Record<string, string | undefined>;
  readonly s3?: S3Client;
  readonly sns?: SNSClient;
  readonly batch?: BatchClient;
  readonly lambda?: LambdaClient;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly createEngine?: PipelineDeps['createEngine'];
}

export type StylizeHandler = (event: unknown, context: Context) => Promise<JobOutcome[]>;

export function createStylizeHandler(opts: StylizeFunctionOptions = {}): StylizeHandler {
  const env = opts.env ?? process.env;
  const config = readPipelineConfig(env);
  const serviceName = env.POWERTOOLS_SERVICE_NAME ?? SERVICE;
  const logger = opts.logger ?? new Logger({ serviceName });
  const metrics =
    opts.metrics ??
    new Metrics({ serviceName, namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'ServerlessStyleTransfer' });
  const s3 = opts.s3 ?? new S3Client({});
  const stores = new Map<string, ObjectStore>();
  const storeFor = (bucket: string) => {
    if (!stores.has(bucket)) stores.set(bucket, new ObjectStore(s3, bucket));
    return stores.get(bucket)!;
  };
  const notifier = config.topicArn
    ? new SnsNotifier(opts.sns ?? new SNSClient({}), config.topicArn)
    : new LogNotifier(logger);
  const batch = config.batch ? batchDispatch(opts.batch ?? new BatchClient({}), config.batch) : undefined;
  const lambda = opts.lambda ?? new LambdaClient({});

  return async (event, context) => {
    logger.addContext(context);
    const deps: PipelineDeps = {
      config,
      storeFor,
      loadWeights: () => cachedWeights(resolveWeightsDir({ env: { NST_WEIGHTS_DIR: config.weightsDir } })),
      notifier,
      logger,
      metrics: powertoolsMetrics(metrics),
      dispatch: { batch, continuation: continuationDispatch(lambda, context.invokedFunctionArn) },
      worker: 'lambda',
      createEngine: opts.createEngine,
    };
    try {
      return await handleEvent(deps, { owner: context.awsRequestId, deadline: context }, event);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

let defaultHandler: StylizeHandler | undefined;

/** The Lambda entry point. */
export const handler: StylizeHandler = (event, context) => {
  defaultHandler ??= createStylizeHandler();
  return defaultHandler(event, context);
};
