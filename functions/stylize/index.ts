/**
 * The stylize Lambda: S3 events (inputs/, jobs/), its own continuations, AWS Batch failure events, its
 * dead-letter queue's messages and the scheduled sweep, all through the shared handler
 * (src/jobs/intake/handler.ts). Clients, configuration and the VGG-19 weights live at module level, so a warm
 * container reuses them. Logs are Powertools JSON with the job id on every job line; metrics are EMF,
 * flushed at the end of each invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchClient } from '@aws-sdk/client-batch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { POWERTOOLS_ENV, readPipelineConfig } from '../../src/jobs/config.js';
import { handleEvent } from '../../src/jobs/intake/handler.js';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import { powertoolsMetrics } from '../../src/jobs/lifecycle/metrics.js';
import type { WorkerDeps } from '../../src/jobs/run/run-context.js';
import { buildWorkerDeps, serviceNameFrom } from '../../src/jobs/wiring/build-deps.js';
import { batchDispatch, continuationDispatch } from '../../src/jobs/wiring/dispatch.js';
import { METRICS_NAMESPACE } from '../../src/product.js';
import { createSdkS3Client } from '../../src/storage/s3-client.js';

export interface StylizeFunctionOptions {
  readonly env?: Record<string, string | undefined>;
  readonly s3?: S3Client;
  readonly sns?: SNSClient;
  readonly batch?: BatchClient;
  readonly lambda?: LambdaClient;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly createEngine?: WorkerDeps['createEngine'];
  /** The clock (tests: a job that looks hours old). */
  readonly now?: () => Date;
}

export type StylizeHandler = (event: unknown, context: Context) => Promise<JobOutcome[]>;

export function createStylizeHandler(opts: StylizeFunctionOptions = {}): StylizeHandler {
  const env = opts.env ?? process.env;
  const config = readPipelineConfig(env);
  const serviceName = serviceNameFrom(env);
  const logger = opts.logger ?? new Logger({ serviceName });
  const metrics =
    opts.metrics ??
    new Metrics({ serviceName, namespace: env[POWERTOOLS_ENV.metricsNamespace] ?? METRICS_NAMESPACE });
  const deps = buildWorkerDeps({
    config,
    worker: 'lambda',
    s3: opts.s3 ?? createSdkS3Client(env),
    sns: opts.sns,
    logger,
    metrics: powertoolsMetrics(metrics),
    dispatch: {
      batch: config.batch ? batchDispatch(opts.batch ?? new BatchClient({}), config.batch) : undefined,
    },
    createEngine: opts.createEngine,
    now: opts.now,
  });
  const lambda = opts.lambda ?? new LambdaClient({});

  return async (event, context) => {
    logger.addContext(context);
    // Continuations invoke this very function, which only the context names.
    const continuation = continuationDispatch(lambda, context.invokedFunctionArn);
    const invocationDeps = { ...deps, dispatch: { ...deps.dispatch, continuation } };
    try {
      return await handleEvent(invocationDeps, { owner: context.awsRequestId, deadline: context }, event);
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
