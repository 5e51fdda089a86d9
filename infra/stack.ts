/**
 * The whole pipeline in one stack (DESIGN.md "The job, end to end"):
 *
 *   S3 inputs/, jobs/ --ObjectCreated--> stylize Lambda (runtime + weights layers)
 *     --> outputs/<jobId>/..., SNS notification
 *     --> too big for Lambda: Batch GPU job; a FAILED Batch job comes back to the Lambda via EventBridge
 *   failed async events --> SQS dead-letter queue --> alarm --> SNS
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { NstConfig } from './config.js';
import { BatchGpu } from './constructs/batch-gpu.js';
import { Alarms, NotificationTopic } from './constructs/operations.js';
import { Storage } from './constructs/storage.js';
import { StylizeFunction } from './constructs/stylize-function.js';

export interface LayerDirs {
  /** A folder with `nodejs/node_modules/` (layers/runtime/build.ts). */
  readonly runtime: string;
  /** A folder with `vgg19/` (layers/vgg19/build.ts). */
  readonly vgg19: string;
}

export interface NstStackProps extends StackProps {
  readonly config: NstConfig;
  readonly layers: LayerDirs;
  /** Where the code comes from (defaults: this repository's functions/). */
  readonly code?: {
    /** The stylize handler (functions/stylize/index.ts). */
    readonly entry?: string;
    /** The GPU image's build context and Dockerfile (the repository, functions/batch/Dockerfile). */
    readonly batchImage?: { readonly directory: string; readonly file: string };
  };
}

export class NstStack extends Stack {
  readonly storage: Storage;
  readonly stylize: StylizeFunction;
  readonly batch?: BatchGpu;

  constructor(scope: Construct, id: string, props: NstStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.storage = new Storage(this, 'Storage', {
      temporaryExpiryDays: config.temporaryExpiryDays,
      accessLogDays: Math.max(config.logRetentionDays, 30),
    });
    const { bucket } = this.storage;
    const { topic } = new NotificationTopic(this, 'Notifications', { email: config.notificationEmail });

    if (config.batch) {
      this.batch = new BatchGpu(this, 'Gpu', {
        config,
        bucket,
        topic,
        flowLogsBucket: this.storage.logsBucket,
        image: props.code?.batchImage,
      });
    }

    const architecture =
      config.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const runtimeLayer = new lambda.LayerVersion(this, 'RuntimeLayer', {
      description: `onnxruntime-node and sharp for linux ${architecture.name}`,
      code: lambda.Code.fromAsset(props.layers.runtime),
      compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
      compatibleArchitectures: [architecture],
    });
    const weightsLayer = new lambda.LayerVersion(this, 'Vgg19Layer', {
      description: 'VGG-19 conv1_1..conv5_1 weights at /opt/vgg19',
      code: lambda.Code.fromAsset(props.layers.vgg19),
      compatibleArchitectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
    });

    this.stylize = new StylizeFunction(this, 'Stylize', {
      config,
      bucket,
      topic,
      layers: { runtime: runtimeLayer, vgg19: weightsLayer },
      entry: props.code?.entry,
      batch: this.batch && {
        jobQueueArn: this.batch.jobQueue.jobQueueArn,
        jobDefinitionArn: this.batch.jobDefinition.jobDefinitionArn,
        jobDefinitionName: this.batch.jobDefinitionName,
      },
    });
    const fn = this.stylize.function;
    const dlq = this.stylize.deadLetterQueue;

    if (this.batch) {
      // A job that Batch gives up on (after its retries) never reaches the worker's own failure path, so
      // the function records it as failed in job.json and notifies.
      new events.Rule(this, 'BatchJobFailed', {
        description: 'Failed GPU stylize jobs go back to the stylize function',
        eventPattern: {
          source: ['aws.batch'],
          detailType: ['Batch Job State Change'],
          detail: { status: ['FAILED'], jobQueue: [this.batch.jobQueue.jobQueueArn] },
        },
        targets: [
          new targets.LambdaFunction(fn, {
            deadLetterQueue: dlq,
            retryAttempts: 4,
            maxEventAge: Duration.hours(6),
          }),
        ],
      });
    }

    new Alarms(this, 'Alarms', { topic, function: fn, deadLetterQueue: dlq });

    new CfnOutput(this, 'BucketName', {
      value: bucket.bucketName,
      description: 'Upload to inputs/ or jobs/',
    });
    new CfnOutput(this, 'NotificationTopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: dlq.queueUrl });
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    if (this.batch) new CfnOutput(this, 'JobQueueArn', { value: this.batch.jobQueue.jobQueueArn });
  }
}
