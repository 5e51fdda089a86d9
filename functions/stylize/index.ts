/**
 * The stylize Lambda: S3 events (inputs/, jobs/), its own continuations, AWS Batch failure events, the
 * steps of tiled jobs' Step Functions executions and their failures, its dead-letter queue's messages and
 * the scheduled sweep, all through the shared handler (src/jobs/intake/handler.ts). Clients, configuration and the VGG-19 weights live at module level, so a warm
 * container reuses them. Logs are Powertools JSON with the job id on every job line; metrics are EMF,
 * flushed at the end of each invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchClient } from '@aws-sdk/client-batch';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { POWERTOOLS_ENV, readPipelineConfig } from '../../src/jobs/config.js';
import { handleEvent, handleTilesStep, type TilesStepResult } from '../../src/jobs/intake/handler.js';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import { powertoolsMetrics } from '../../src/jobs/lifecycle/metrics.js';
import { STEP_FUNCTIONS_CLIENT_SETTINGS } from '../../src/jobs/notify/task-token.js';
import type { WorkerDeps } from '../../src/jobs/run/run-context.js';
import { isTilesStep, type TilesStepEvent } from '../../src/jobs/tiled/execution.js';
import { buildWorkerDeps, serviceNameFrom } from '../../src/jobs/wiring/build-deps.js';
import { batchDispatch, continuationDispatch, tilesDispatch } from '../../src/jobs/wiring/dispatch.js';
import { METRICS_NAMESPACE } from '../../src/product.js';
import { createSdkS3Client } from '../../src/storage/s3-client.js';

export interface StylizeFunctionOptions {
  readonly env?: Record<string, string | undefined>;
  readonly s3?: S3Client;
  readonly sns?: SNSClient;
  readonly eventBridge?: EventBridgeClient;
  readonly batch?: BatchClient;
  readonly lambda?: LambdaClient;
  readonly sfn?: SFNClient;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  readonly createEngine?: WorkerDeps['createEngine'];
  readonly createTileEngine?: WorkerDeps['createTileEngine'];
  /** The clock (tests: a job that looks hours old). */
  readonly now?: () => Date;
}

/** A tiles step returns its state's next value; every other event, the outcomes of the jobs it named. */
export interface StylizeHandler {
  (event: TilesStepEvent, context: Context): Promise<TilesStepResult>;
  (event: unknown, context: Context): Promise<JobOutcome[]>;
}

export function createStylizeHandler(opts: StylizeFunctionOptions = {}): StylizeHandler {
  const env = opts.env ?? process.env;
  const config = readPipelineConfig(env);
  const serviceName = serviceNameFrom(env);
  const sfn = opts.sfn ?? new SFNClient(STEP_FUNCTIONS_CLIENT_SETTINGS);
  const logger = opts.logger ?? new Logger({ serviceName });
  const metrics =
    opts.metrics ??
    new Metrics({ serviceName, namespace: env[POWERTOOLS_ENV.metricsNamespace] ?? METRICS_NAMESPACE });
  const deps = buildWorkerDeps({
    config,
    worker: 'lambda',
    s3: opts.s3 ?? createSdkS3Client(env),
    sns: opts.sns,
    eventBridge: opts.eventBridge,
    sfn,
    logger,
    metrics: powertoolsMetrics(metrics),
    dispatch: {
      batch: config.batch ? batchDispatch(opts.batch ?? new BatchClient({}), config.batch) : undefined,
      tiles: config.tilesStateMachineArn ? tilesDispatch(sfn, config.tilesStateMachineArn) : undefined,
    },
    createEngine: opts.createEngine,
    createTileEngine: opts.createTileEngine,
    now: opts.now,
  });
  const lambda = opts.lambda ?? new LambdaClient({});

  const handle = async (event: unknown, context: Context): Promise<JobOutcome[] | TilesStepResult> => {
    logger.addContext(context);
    // Continuations invoke this very function, which only the context names.
    const continuation = continuationDispatch(lambda, context.invokedFunctionArn);
    const invocationDeps = { ...deps, dispatch: { ...deps.dispatch, continuation } };
    const inv = { owner: context.awsRequestId, deadline: context };
    try {
      if (isTilesStep(event)) return await handleTilesStep(invocationDeps, inv, event);
      return await handleEvent(invocationDeps, inv, event);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
  return handle as StylizeHandler;
}

let defaultHandler: StylizeHandler | undefined;

/** The Lambda entry point. */
export const handler = ((event: unknown, context: Context) => {
  defaultHandler ??= createStylizeHandler();
  return defaultHandler(event, context);
}) as StylizeHandler;
