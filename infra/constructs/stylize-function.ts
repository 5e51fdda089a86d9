/**
 * The stylize function: functions/stylize bundled by the local esbuild (no Docker), with the native
 * runtime and the VGG-19 weights as layers, S3 events from inputs/ and jobs/, asynchronous retries ending
 * in an SQS dead-letter queue, and an IAM role that can do exactly what the pipeline contract lists.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LAMBDA_WEIGHTS_DIR } from '../../src/weights/lookup.js';
import type { NstConfig } from '../config.js';
import { acknowledgePrefixWildcards, acknowledgeWildcard, pipelineS3Statements } from './policies.js';
import { PREFIX } from './storage.js';

export const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const STYLIZE_ENTRY = path.join(REPO_ROOT, 'functions', 'stylize', 'index.ts');

/**
 * Left out of the bundle. sharp and onnxruntime-node load native binaries: they come from the runtime
 * layer (/opt/nodejs/node_modules). tfjs-node is an optional native package, absent on Lambda; tfjs-core
 * and its WASM backend locate their .wasm files through require.resolve, which a bundle cannot answer,
 * so on Lambda the tfjs engine reports ENGINE_UNAVAILABLE and `auto` runs the onnx engine.
 */
export const EXTERNAL_MODULES = [
  'sharp',
  'onnxruntime-node',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-wasm',
];

/** Bundled CommonJS dependencies call require(); an ES module bundle has to provide it. */
const REQUIRE_SHIM =
  "import { createRequire as nstCreateRequire } from 'node:module'; const require = nstCreateRequire(import.meta.url);";

export interface BatchTarget {
  readonly jobQueueArn: string;
  readonly jobDefinitionArn: string;
  /** Job definition name: SubmitJob is allowed on every revision of it. */
  readonly jobDefinitionName: string;
}

export interface StylizeFunctionProps {
  readonly config: NstConfig;
  readonly bucket: s3.IBucket;
  readonly topic: sns.ITopic;
  readonly layers: { readonly runtime: lambda.ILayerVersion; readonly vgg19: lambda.ILayerVersion };
  readonly batch?: BatchTarget;
  /** The handler source (default functions/stylize/index.ts). */
  readonly entry?: string;
}

export class StylizeFunction extends Construct {
  readonly function: NodejsFunction;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: StylizeFunctionProps) {
    super(scope, id);
    const { config } = props;
    // A fixed name lets the role allow the function to invoke itself (continuations) by an ARN built
    // from the name, instead of a role -> function -> role reference cycle.
    const functionName = `${config.prefix}-stylize`;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue, of the function and of the Batch failure rule.',
    });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of our own: log writes scoped to this log group instead of AWSLambdaBasicExecutionRole.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'stylize function: read inputs, styles and jobs; write outputs; notify; submit GPU jobs',
    });
    logGroup.grantWrite(role);
    this.grantPipeline(role, props, functionName);

    this.function = new NodejsFunction(this, 'Function', {
      functionName,
      entry: props.entry ?? STYLIZE_ENTRY,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: config.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: config.memory,
      timeout: Duration.seconds(config.timeout),
      reservedConcurrentExecutions: config.reservedConcurrency,
      role,
      logGroup,
      layers: [props.layers.runtime, props.layers.vgg19],
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
      environment: environment(props),
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      projectRoot: REPO_ROOT,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: REQUIRE_SHIM,
        minify: true,
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        externalModules: EXTERNAL_MODULES,
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to Node.js 22: the runtime layer and the Batch image are built and tested for it; ' +
        'moving to a newer runtime is a deliberate upgrade of all three.',
    });

    for (const prefix of [PREFIX.inputs, PREFIX.jobs]) {
      props.bucket.addObjectCreatedNotification(new s3n.LambdaDestination(this.function), { prefix });
    }
    acknowledgeNotificationsHandler(Stack.of(this));
  }

  /** S3 per the contract, SNS publish, self-invocation, and SubmitJob on the pipeline's queue. */
  private grantPipeline(role: iam.Role, props: StylizeFunctionProps, functionName: string): void {
    const stack = Stack.of(this);
    const functionArn = stack.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const statements = [
      ...pipelineS3Statements(props.bucket),
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
      new iam.PolicyStatement({
        sid: 'ContinueInNewInvocation',
        actions: ['lambda:InvokeFunction'],
        resources: [functionArn, `${functionArn}:*`],
      }),
    ];
    acknowledgePrefixWildcards(role, props.bucket);
    acknowledgeWildcard(
      role,
      `${functionArn}:*`,
      'Versions and aliases of this function only: it invokes itself to continue a long job.',
    );
    if (props.batch) {
      const definition = stack.formatArn({
        service: 'batch',
        resource: 'job-definition',
        resourceName: props.batch.jobDefinitionName,
      });
      statements.push(
        new iam.PolicyStatement({
          sid: 'SubmitGpuJobs',
          actions: ['batch:SubmitJob'],
          resources: [props.batch.jobQueueArn, definition, `${definition}:*`],
        }),
      );
      acknowledgeWildcard(
        role,
        `${definition}:*`,
        'Revisions of the pipeline job definition only: every deploy registers a new revision.',
      );
    }
    for (const statement of statements) role.addToPrincipalPolicy(statement);
  }
}

/** The variables of the pipeline contract. */
function environment(props: StylizeFunctionProps): Record<string, string> {
  return {
    NST_WEIGHTS_DIR: LAMBDA_WEIGHTS_DIR,
    NST_TOPIC_ARN: props.topic.topicArn,
    NST_ENGINE: 'auto',
    NST_DEADLINE_MARGIN_SECONDS: '60',
    ...(props.batch && {
      NST_BATCH_JOB_QUEUE: props.batch.jobQueueArn,
      NST_BATCH_JOB_DEFINITION: props.batch.jobDefinitionArn,
    }),
    POWERTOOLS_SERVICE_NAME: 'serverless-style-transfer',
    POWERTOOLS_METRICS_NAMESPACE: 'ServerlessStyleTransfer',
    POWERTOOLS_LOG_LEVEL: 'INFO',
    NODE_OPTIONS: '--enable-source-maps',
  };
}

/** CDK's singleton function that writes the bucket's notification configuration at deploy time. */
function acknowledgeNotificationsHandler(stack: Stack): void {
  const handler = stack.node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
  if (!handler) return;
  Validations.of(handler).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason:
      "CDK's own deploy-time handler for the bucket notification configuration; besides s3:PutBucketNotification " +
      'on this bucket it only writes its logs, which is all this AWS-managed policy grants.',
  });
}
