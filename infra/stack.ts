/**
 * The whole pipeline in one stack (docs/ARCHITECTURE.md, "One job, end to end"):
 *
 *   S3 inputs/, jobs/ --ObjectCreated--> stylize Lambda (runtime + weights layers)
 *     --> outputs/<jobId>/..., SNS notification, EventBridge events (Started, Succeeded, Failed)
 *     --> too big for Lambda: Batch GPU job; a FAILED Batch job (cancelled after waiting RUNNABLE too
 *         long included) comes back to the Lambda via EventBridge
 *     --> a job with tiled scales: its tiles fanned out over the same Lambda by a Step Functions
 *         execution; an execution that fails, times out or is stopped comes back via EventBridge
 *   failed async events --> SQS dead-letter queue --> the same Lambda (marks the job failed) --> SNS;
 *     dead letters it cannot process --> poison queue --> alarm --> SNS
 *   every 5 minutes: EventBridge --> the Lambda sweeps for jobs whose worker died
 *
 * The stack reads the settings (infra/config.ts) and hands each construct the few it uses.
 */
import { ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BATCH_EVENT_RETRY_ATTEMPTS, EVENT_MAX_AGE_HOURS } from '../src/jobs/deployment.js';
import { EVENT_SOURCE } from '../src/product.js';
import type { NstConfig } from './config.js';
import { BatchGpu } from './constructs/batch-gpu.js';
import { type LayerDirs, lambdaArchitecture, PipelineLayers } from './constructs/layers.js';
import { Alarms, NotificationTopic } from './constructs/operations.js';
import type { NotificationTargets } from './constructs/policies.js';
import { Storage } from './constructs/storage.js';
import { StylizeFunction } from './constructs/stylize-function.js';
import { SweepSchedule } from './constructs/sweeper.js';
import { TilesStateMachine } from './constructs/tiles-state-machine.js';

export interface NstStackProps extends StackProps {
  readonly config: NstConfig;
  /** The layer folders, built before synth (infra/layer-cache.ts). */
  readonly layers: LayerDirs;
  /** Where the code comes from (defaults: this repository's functions/). */
  readonly code?: {
    /** The stylize handler (functions/stylize/index.ts). */
    readonly entry?: string;
    /** The GPU image's build context and Dockerfile (the repository, functions/batch/Dockerfile). */
    readonly batchImage?: { readonly directory: string; readonly file: string };
  };
}

/**
 * The layers were the stack's own children before they had a construct: their logical ids stay as they
 * were, so a deployed stack keeps its layer versions instead of publishing them again under new names.
 */
function keepDeployedLogicalIds(layers: PipelineLayers): void {
  const keep = (layer: lambda.LayerVersion, id: string) =>
    (layer.node.defaultChild as lambda.CfnLayerVersion).overrideLogicalId(id);
  keep(layers.runtime, 'RuntimeLayer30C65090');
  keep(layers.vgg19, 'Vgg19Layer73624A45');
}

/** Access logs are kept at least this long, whatever the log retention. */
const MIN_ACCESS_LOG_DAYS = 30;

export class NstStack extends Stack {
  readonly storage: Storage;
  readonly stylize: StylizeFunction;
  readonly batch?: BatchGpu;
  readonly tiles: TilesStateMachine;

  constructor(scope: Construct, id: string, props: NstStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.storage = new Storage(this, 'Storage', {
      temporaryExpiryDays: config.temporaryExpiryDays,
      accessLogDays: Math.max(config.logRetentionDays, MIN_ACCESS_LOG_DAYS),
    });
    const { topic } = new NotificationTopic(this, 'Notifications', { email: config.notificationEmail });
    const notifications = {
      topic,
      eventBus: events.EventBus.fromEventBusName(this, 'EventBus', config.eventBus),
    };
    if (config.batch) this.batch = this.addGpuPath(notifications, props);
    const layers = new PipelineLayers(this, 'Layers', {
      dirs: props.layers,
      architecture: lambdaArchitecture(config.architecture),
    });
    keepDeployedLogicalIds(layers);
    const tilesName = `${config.prefix}-tiles`;
    this.stylize = this.addStylizeFunction(notifications, layers, props, this.stateMachineArn(tilesName));
    this.tiles = new TilesStateMachine(this, 'Tiles', {
      function: this.stylize.function,
      functionTimeout: Duration.seconds(config.timeout),
      tileConcurrency: config.tileConcurrency,
      stateMachineName: tilesName,
      deadLetterQueue: this.stylize.deadLetterQueue,
      logRetention: config.logRetentionDays as logs.RetentionDays,
    });
    if (this.batch) this.routeFailedGpuJobs(this.batch);
    new SweepSchedule(this, 'Sweep', { function: this.stylize.function, bucket: this.storage.bucket });
    new Alarms(this, 'Alarms', {
      topic,
      function: this.stylize.function,
      deadLetterQueue: this.stylize.deadLetterQueue,
      poisonQueue: this.stylize.poisonQueue,
      tilesStateMachine: this.tiles.stateMachine,
    });
    this.addOutputs(notifications);
  }

  private addGpuPath(notifications: NotificationTargets, { config, code }: NstStackProps): BatchGpu {
    return new BatchGpu(this, 'Gpu', {
      bucket: this.storage.bucket,
      notifications,
      flowLogsBucket: this.storage.logsBucket,
      prefix: config.prefix,
      vpcId: config.vpcId,
      instanceTypes: config.instanceTypes,
      maxvCpus: config.maxvCpus,
      spot: config.spot,
      jobTimeout: Duration.minutes(config.batchTimeoutMinutes),
      runnableTimeout: Duration.seconds(config.batchRunnableTimeoutSeconds),
      logRetention: config.logRetentionDays as logs.RetentionDays,
      image: code?.batchImage,
    });
  }

  /**
   * The tiles' state machine's ARN, made from its name: the function's environment and policy name it,
   * and the state machine invokes the function, so a reference would be circular.
   */
  private stateMachineArn(name: string): string {
    return this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private addStylizeFunction(
    notifications: NotificationTargets,
    layers: PipelineLayers,
    { config, code }: NstStackProps,
    tilesStateMachineArn: string,
  ): StylizeFunction {
    return new StylizeFunction(this, 'Stylize', {
      bucket: this.storage.bucket,
      notifications,
      layers,
      batch: this.batch && {
        jobQueueArn: this.batch.jobQueue.jobQueueArn,
        jobDefinitionArn: this.batch.jobDefinition.jobDefinitionArn,
        jobDefinitionName: this.batch.jobDefinitionName,
        jobTimeout: this.batch.jobTimeout,
        runnableTimeout: this.batch.runnableTimeout,
        gpuMemoryMb: this.batch.gpuMemoryMb,
      },
      tiles: { stateMachineArn: tilesStateMachineArn, maxJobGbSeconds: config.maxJobGbSeconds },
      prefix: config.prefix,
      memorySize: config.memory,
      timeout: Duration.seconds(config.timeout),
      reservedConcurrency: config.reservedConcurrency,
      logRetention: config.logRetentionDays as logs.RetentionDays,
      entry: code?.entry,
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

  private addOutputs({ topic, eventBus }: NotificationTargets): void {
    new CfnOutput(this, 'BucketName', {
      value: this.storage.bucket.bucketName,
      description: 'Upload to inputs/ or jobs/ (a spec names photos under assets/, paintings under styles/)',
    });
    new CfnOutput(this, 'NotificationTopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'EventBusName', {
      value: eventBus.eventBusName,
      description: `Where the jobs' events go (source ${EVENT_SOURCE})`,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.stylize.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'PoisonQueueUrl', { value: this.stylize.poisonQueue.queueUrl });
    new CfnOutput(this, 'FunctionName', { value: this.stylize.function.functionName });
    if (this.batch) new CfnOutput(this, 'JobQueueArn', { value: this.batch.jobQueue.jobQueueArn });
    new CfnOutput(this, 'TilesStateMachineArn', { value: this.tiles.stateMachine.stateMachineArn });
  }
}
