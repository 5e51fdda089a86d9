/**
 * The stack `npx cdk deploy` deploys: the StyleTransferPipeline construct (infra/constructs/
 * style-transfer-pipeline.ts) made from the settings (infra/config.ts), and the stack's outputs.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { EVENT_SOURCE } from '../src/product.js';
import type { NstConfig } from './config.js';
import type { LayerDirs } from './constructs/layers.js';
import { type GpuSettings, StyleTransferPipeline } from './constructs/style-transfer-pipeline.js';

export interface NstStackProps extends StackProps {
  readonly config: NstConfig;
  /** The layer folders, built before synth (infra/layer-cache.ts). */
  readonly layers: LayerDirs;
  /** Where the code comes from (defaults: this repository's functions/). */
  readonly code?: {
    /** The stylize handler (functions/stylize/index.ts). */
    readonly entry?: string;
    /** The GPU image's build context and Dockerfile (the repository, functions/batch/Dockerfile). */
    readonly batchImage?: GpuSettings['image'];
  };
}

/**
 * The construct's id: CDK leaves an id of `Default` out of the logical ids below it, so the resources keep
 * the logical ids they had when they were the stack's own children, and a deployed stack updates them in
 * place instead of replacing them (its bucket above all).
 */
const PIPELINE_ID = 'Default';

export class NstStack extends Stack {
  readonly pipeline: StyleTransferPipeline;

  constructor(scope: Construct, id: string, props: NstStackProps) {
    super(scope, id, props);
    const { config, code } = props;
    this.pipeline = new StyleTransferPipeline(this, PIPELINE_ID, {
      layers: props.layers,
      prefix: config.keyPrefix,
      namePrefix: config.namePrefix,
      notificationEmail: config.notificationEmail,
      eventBus: events.EventBus.fromEventBusName(this, 'EventBus', config.eventBus),
      memorySize: config.memory,
      timeout: Duration.seconds(config.timeout),
      reservedConcurrency: config.reservedConcurrency,
      architecture: config.architecture,
      gpu: config.batch && {
        vpcId: config.vpcId,
        instanceTypes: config.instanceTypes,
        maxvCpus: config.maxvCpus,
        spot: config.spot,
        jobTimeout: Duration.minutes(config.batchTimeoutMinutes),
        runnableTimeout: Duration.seconds(config.batchRunnableTimeoutSeconds),
        image: code?.batchImage,
      },
      tiles: { concurrency: config.tileConcurrency, maxJobGbSeconds: config.maxJobGbSeconds },
      logRetention: config.logRetentionDays as logs.RetentionDays,
      temporaryExpiryDays: config.temporaryExpiryDays,
      entry: code?.entry,
    });
    keepDeployedLayerIds(this.pipeline);
    this.addOutputs();
  }

  private addOutputs(): void {
    const { bucket, prefix, topic, eventBus, stylize, batch, tiles } = this.pipeline;
    new CfnOutput(this, 'BucketName', {
      value: bucket.bucketName,
      description: `Upload to ${prefix}inputs/ or ${prefix}jobs/ (a spec names photos under assets/, paintings under styles/)`,
    });
    new CfnOutput(this, 'NotificationTopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'EventBusName', {
      value: eventBus.eventBusName,
      description: `Where the jobs' events go (source ${EVENT_SOURCE})`,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: stylize.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'PoisonQueueUrl', { value: stylize.poisonQueue.queueUrl });
    new CfnOutput(this, 'FunctionName', { value: stylize.function.functionName });
    if (batch) new CfnOutput(this, 'JobQueueArn', { value: batch.jobQueue.jobQueueArn });
    new CfnOutput(this, 'TilesStateMachineArn', { value: tiles.stateMachine.stateMachineArn });
  }
}

/**
 * The layers were the stack's own children before they had a construct: their logical ids stay as they
 * were, so a deployed stack keeps its layer versions instead of publishing them again under new names.
 */
function keepDeployedLayerIds({ layers }: StyleTransferPipeline): void {
  const keep = (layer: lambda.LayerVersion, id: string) =>
    (layer.node.defaultChild as lambda.CfnLayerVersion).overrideLogicalId(id);
  keep(layers.runtime, 'RuntimeLayer30C65090');
  keep(layers.vgg19, 'Vgg19Layer73624A45');
}
