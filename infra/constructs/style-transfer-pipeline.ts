/**
 * The whole pipeline as one construct for any CDK app (docs/ARCHITECTURE.md, "One job, end to end"):
 *
 *   S3 <prefix>inputs/, <prefix>jobs/ --ObjectCreated--> stylize Lambda (runtime + weights layers)
 *     --> <prefix>outputs/<jobId>/..., SNS notification, EventBridge events (Started, Succeeded, Failed)
 *     --> too big for Lambda: Batch GPU job; a FAILED Batch job (cancelled after waiting RUNNABLE too
 *         long included) comes back to the Lambda via EventBridge
 *     --> a job with tiled scales: its tiles fanned out over the same Lambda by a Step Functions
 *         execution; an execution that fails, times out or is stopped comes back via EventBridge
 *   failed async events --> SQS dead-letter queue --> the same Lambda (marks the job failed) --> SNS;
 *     dead letters it cannot process --> poison queue --> alarm --> SNS
 *   every 5 minutes: EventBridge --> the Lambda sweeps for jobs whose worker died
 *
 * A host app may bring its bucket (shared with other uses: the pipeline's folders live under `prefix`),
 * its topic and its event bus; whatever it does not bring, the construct creates.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { BATCH_EVENT_RETRY_ATTEMPTS, EVENT_MAX_AGE_HOURS } from '../../src/jobs/deployment.js';
import { parseKeyPrefix } from '../../src/storage/key-prefix.js';
import { DEFAULT_CONFIG } from '../config.js';
import { BatchGpu, type BatchGpuProps } from './batch-gpu.js';
import { type LayerDirs, lambdaArchitecture, PipelineLayers } from './layers.js';
import { Alarms, NotificationTopic } from './operations.js';
import type { NotificationTargets } from './policies.js';
import { Storage } from './storage.js';
import { StylizeFunction } from './stylize-function.js';
import { SweepSchedule } from './sweeper.js';
import { TilesStateMachine } from './tiles-state-machine.js';

/** The GPU path's settings (BatchGpuProps documents each and its default). */
export type GpuSettings = Pick<
  BatchGpuProps,
  'vpcId' | 'instanceTypes' | 'maxvCpus' | 'spot' | 'jobTimeout' | 'runnableTimeout' | 'image'
>;

export interface StyleTransferPipelineProps {
  /** The Lambda layers' folders, built before synth (`buildLayers`, which caches them). */
  readonly layers: LayerDirs;
  /**
   * The bucket the pipeline's folders live in. The construct adds its event notifications and scopes its
   * roles to `prefix`; it does not change the bucket's settings: add `pipelineLifecycleRules({ keyPrefix })`
   * to it, and keep it versioned (a job id is then the upload's version; unversioned, its ETag).
   * @default - a new bucket: versioned, SSE-S3, TLS only, access logs, the lifecycle rules
   */
  readonly bucket?: s3.IBucket;
  /**
   * The key prefix the pipeline's folders (inputs/, jobs/, styles/, assets/, outputs/) live under, so the
   * pipeline can share a bucket: '' or folders ending in '/', such as `art/`. The bucket notification's
   * filters, the roles' scope, the workers' NST_KEY_PREFIX and the lifecycle rules follow it. Keys in a
   * spec are relative to it; the notifications name whole keys.
   * @default '' (the bucket's top)
   */
  readonly prefix?: string;
  /**
   * The topic finished jobs are published to; the alarms publish there too.
   * @default - a new topic (with `notificationEmail` subscribed)
   */
  readonly topic?: sns.ITopic;
  /**
   * An address subscribed to the new topic (AWS asks it to confirm); only without `topic`.
   * @default - no subscription
   */
  readonly notificationEmail?: string;
  /**
   * The bus that gets every job's events (source serverless-style-transfer).
   * @default - the account's default bus
   */
  readonly eventBus?: events.IEventBus;
  /**
   * Prefix of the physical names: the function `<namePrefix>-stylize`, the state machine
   * `<namePrefix>-tiles`, the job queue and definition. Two pipelines in one account need two.
   * @default 'nst'
   */
  readonly namePrefix?: string;
  /**
   * The function's memory in MB; 10240 gives it 6 vCPUs.
   * @default 10240
   */
  readonly memorySize?: number;
  /**
   * How long one invocation may run; longer jobs checkpoint and continue in a new invocation.
   * @default 900 seconds
   */
  readonly timeout?: Duration;
  /**
   * Concurrent executions reserved for (and limiting) the function; `false`: none reserved.
   * @default 10
   */
  readonly reservedConcurrency?: number | false;
  /**
   * The function's architecture; the layers must be built for it.
   * @default 'x86_64'
   */
  readonly architecture?: 'x86_64' | 'arm64';
  /**
   * The AWS Batch GPU path for jobs too big for Lambda, or `false` for none (every job runs in Lambda).
   * @default - on, with BatchGpu's defaults (g5/g6, on demand, up to 16 vCPUs)
   */
  readonly gpu?: GpuSettings | false;
  /** The tiled route's settings. */
  readonly tiles?: {
    /**
     * Tile tasks of one job at once (the Distributed Map's MaxConcurrency).
     * @default 10
     */
    readonly concurrency?: number;
    /**
     * The cost cap: a job estimated at more Lambda GB-seconds fails with JOB_TOO_LARGE.
     * @default 200000
     */
    readonly maxJobGbSeconds?: number;
  };
  /**
   * How long the logs are kept (and the new bucket's access logs, at least 30 days).
   * @default 30 days
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Days before progress frames and checkpoints expire (the new bucket's lifecycle rule).
   * @default 7
   */
  readonly temporaryExpiryDays?: number;
  /**
   * The stylize handler's source.
   * @default functions/stylize/index.ts of this package
   */
  readonly entry?: string;
}

/** Access logs are kept at least this long, whatever the log retention. */
const MIN_ACCESS_LOG_DAYS = 30;

export class StyleTransferPipeline extends Construct {
  readonly bucket: s3.IBucket;
  /** The key prefix the pipeline's folders live under ('' for the bucket's top). */
  readonly prefix: string;
  readonly topic: sns.ITopic;
  readonly eventBus: events.IEventBus;
  /** The new bucket and its access-log bucket, when the host app brought none. */
  readonly storage?: Storage;
  readonly layers: PipelineLayers;
  readonly stylize: StylizeFunction;
  readonly batch?: BatchGpu;
  readonly tiles: TilesStateMachine;

  constructor(scope: Construct, id: string, props: StyleTransferPipelineProps) {
    super(scope, id);
    this.prefix = parseKeyPrefix(props.prefix, 'StyleTransferPipeline prefix');
    const logRetention = props.logRetention ?? (DEFAULT_CONFIG.logRetentionDays as logs.RetentionDays);
    if (!props.bucket) {
      this.storage = new Storage(this, 'Storage', {
        keyPrefix: this.prefix,
        temporaryExpiryDays: props.temporaryExpiryDays,
        accessLogDays: Math.max(logRetention, MIN_ACCESS_LOG_DAYS),
      });
    }
    this.bucket = props.bucket ?? this.storage!.bucket;
    this.topic =
      props.topic ?? new NotificationTopic(this, 'Notifications', { email: props.notificationEmail }).topic;
    this.eventBus =
      props.eventBus ?? events.EventBus.fromEventBusName(this, 'EventBus', DEFAULT_CONFIG.eventBus);
    const notifications = { topic: this.topic, eventBus: this.eventBus };
    const namePrefix = props.namePrefix ?? DEFAULT_CONFIG.namePrefix;
    if (props.gpu !== false) this.batch = this.addGpuPath(notifications, namePrefix, logRetention, props.gpu);
    this.layers = new PipelineLayers(this, 'Layers', {
      dirs: props.layers,
      architecture: lambdaArchitecture(props.architecture ?? DEFAULT_CONFIG.architecture),
    });
    const tilesName = `${namePrefix}-tiles`;
    const timeout = props.timeout ?? Duration.seconds(DEFAULT_CONFIG.timeout);
    this.stylize = new StylizeFunction(this, 'Stylize', {
      bucket: this.bucket,
      keyPrefix: this.prefix,
      notifications,
      layers: this.layers,
      batch: this.batch && {
        jobQueueArn: this.batch.jobQueue.jobQueueArn,
        jobDefinitionArn: this.batch.jobDefinition.jobDefinitionArn,
        jobDefinitionName: this.batch.jobDefinitionName,
        jobTimeout: this.batch.jobTimeout,
        runnableTimeout: this.batch.runnableTimeout,
        gpuMemoryMb: this.batch.gpuMemoryMb,
      },
      tiles: {
        stateMachineArn: this.stateMachineArn(tilesName),
        maxJobGbSeconds: props.tiles?.maxJobGbSeconds ?? DEFAULT_CONFIG.maxJobGbSeconds,
      },
      namePrefix,
      memorySize: props.memorySize,
      timeout,
      reservedConcurrency: props.reservedConcurrency,
      logRetention,
      entry: props.entry,
    });
    this.tiles = new TilesStateMachine(this, 'Tiles', {
      function: this.stylize.function,
      functionTimeout: timeout,
      tileConcurrency: props.tiles?.concurrency ?? DEFAULT_CONFIG.tileConcurrency,
      stateMachineName: tilesName,
      deadLetterQueue: this.stylize.deadLetterQueue,
      logRetention,
    });
    if (this.batch) this.routeFailedGpuJobs(this.batch);
    new SweepSchedule(this, 'Sweep', { function: this.stylize.function, bucket: this.bucket });
    new Alarms(this, 'Alarms', {
      topic: this.topic,
      function: this.stylize.function,
      deadLetterQueue: this.stylize.deadLetterQueue,
      poisonQueue: this.stylize.poisonQueue,
      tilesStateMachine: this.tiles.stateMachine,
    });
  }

  private addGpuPath(
    notifications: NotificationTargets,
    namePrefix: string,
    logRetention: logs.RetentionDays,
    settings: GpuSettings = {},
  ): BatchGpu {
    return new BatchGpu(this, 'Gpu', {
      ...settings,
      bucket: this.bucket,
      keyPrefix: this.prefix,
      notifications,
      flowLogsBucket: this.storage?.logsBucket,
      namePrefix,
      logRetention,
    });
  }

  /**
   * The tiles' state machine's ARN, made from its name: the function's environment and policy name it,
   * and the state machine invokes the function, so a reference would be circular.
   */
  private stateMachineArn(name: string): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * A job that Batch gives up on (after its retries) never reaches the worker's own failure path, so the
   * function records it as failed in job.json and notifies.
   */
  private routeFailedGpuJobs(gpu: BatchGpu): void {
    new events.Rule(this, 'BatchJobFailed', {
      description: 'Failed GPU stylize jobs go back to the stylize function',
      eventPattern: {
        source: ['aws.batch'],
        detailType: ['Batch Job State Change'],
        detail: { status: ['FAILED'], jobQueue: [gpu.jobQueue.jobQueueArn] },
      },
      targets: [
        new targets.LambdaFunction(this.stylize.function, {
          deadLetterQueue: this.stylize.deadLetterQueue,
          retryAttempts: BATCH_EVENT_RETRY_ATTEMPTS,
          maxEventAge: Duration.hours(EVENT_MAX_AGE_HOURS),
        }),
      ],
    });
  }
}
