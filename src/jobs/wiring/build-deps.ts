/**
 * The one function that assembles what a worker gives the pipeline (WorkerDeps, run/run-context.ts) for the
 * Lambda, the Batch worker and the local mode: each names its worker, client and logger, and overrides only
 * what differs.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SERVICE_NAME } from '../../product.js';
import { ObjectStore } from '../../storage/object-store.js';
import { resolveWeightsDir } from '../../weights/lookup.js';
import { PIPELINE_ENV, type PipelineConfig, POWERTOOLS_ENV } from '../config.js';
import { EventBridgeNotifier } from '../notify/eventbridge.js';
import { LogNotifier, type Notifier, Notifiers } from '../notify/notifier.js';
import { SnsNotifier } from '../notify/sns.js';
import { STEP_FUNCTIONS_CLIENT_SETTINGS, TaskTokenNotifier } from '../notify/task-token.js';
import type { Dispatcher, WorkerDeps } from '../run/run-context.js';
import { cachedWeights } from './weights-cache.js';

export interface WorkerParts extends Omit<WorkerDeps, 'storeFor' | 'loadWeights' | 'notifier' | 'dispatch'> {
  /** The client for every bucket the jobs use. */
  readonly s3: S3Client;
  /** Default: the configured weights (else the usual lookup), loaded once per process. */
  readonly loadWeights?: WorkerDeps['loadWeights'];
  /**
   * Default: SNS when the configuration names a topic and EventBridge when it names a bus, else a log line
   * per finished job. A job's own waiter (a Step Functions task) is told besides, after these.
   */
  readonly notifier?: Notifier;
  /** The notifiers' clients (default: new ones, from the SDK's configuration). */
  readonly sns?: SNSClient;
  readonly eventBridge?: EventBridgeClient;
  readonly sfn?: SFNClient;
  /** Default: neither Batch nor continuations. */
  readonly dispatch?: Dispatcher;
}

export function buildWorkerDeps(parts: WorkerParts): WorkerDeps {
  const { s3, sns, eventBridge, sfn, loadWeights, notifier, dispatch, ...deps } = parts;
  const channels = notifier ?? defaultNotifier(deps.config, deps.logger, { sns, eventBridge });
  return {
    ...deps,
    storeFor: storesFor(s3, deps.config.keyPrefix),
    loadWeights: loadWeights ?? (() => cachedWeights(configuredWeightsDir(deps.config))),
    notifier: new Notifiers(
      [channels],
      [taskTokenNotifier(sfn ?? new SFNClient(STEP_FUNCTIONS_CLIENT_SETTINGS), deps.logger)],
    ),
    dispatch: dispatch ?? {},
  };
}

/** Powertools' service name: the stack's setting, else the product's name. */
export function serviceNameFrom(env: Record<string, string | undefined>): string {
  return env[POWERTOOLS_ENV.serviceName] ?? SERVICE_NAME;
}

/** One store per bucket, reused across jobs; the layout is under the configured key prefix in each. */
function storesFor(s3: S3Client, keyPrefix: string): (bucket: string) => ObjectStore {
  const stores = new Map<string, ObjectStore>();
  return (bucket) => {
    if (!stores.has(bucket)) stores.set(bucket, new ObjectStore(s3, bucket, keyPrefix));
    return stores.get(bucket)!;
  };
}

function configuredWeightsDir(config: PipelineConfig): string {
  return resolveWeightsDir({ env: { [PIPELINE_ENV.weightsDir]: config.weightsDir } });
}

function defaultNotifier(
  { topicArn, eventBus }: PipelineConfig,
  logger: Logger,
  clients: Pick<WorkerParts, 'sns' | 'eventBridge'>,
): Notifier {
  const channels = [
    ...(topicArn ? [new SnsNotifier(clients.sns ?? new SNSClient({}), topicArn)] : []),
    ...(eventBus
      ? [eventBridgeNotifier(clients.eventBridge ?? new EventBridgeClient({}), eventBus, logger)]
      : []),
  ];
  return channels.length === 0 ? new LogNotifier(logger) : new Notifiers(channels);
}

/** A task that cannot be answered (over, or not ours to answer) is an error in the log: the job goes on. */
function taskTokenNotifier(client: SFNClient, logger: Logger): Notifier {
  return new TaskTokenNotifier(client, (error) =>
    logger.error("the job's Step Functions task is not told", { error: error.message }),
  );
}

/** A bus that refuses the events (missing, or not ours) is an error in the log: the jobs go on. */
function eventBridgeNotifier(client: EventBridgeClient, eventBus: string, logger: Logger): Notifier {
  return new EventBridgeNotifier(client, eventBus, (error) =>
    logger.error(`events are not put: set ${PIPELINE_ENV.eventBus} to a bus this worker may put on`, {
      error: error.message,
    }),
  );
}
