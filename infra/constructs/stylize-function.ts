/**
 * The stylize function: functions/stylize bundled by the local esbuild (no Docker), with the native
 * runtime and the VGG-19 weights as layers, S3 events from inputs/ and jobs/, asynchronous retries ending
 * in an SQS dead-letter queue that the function itself consumes (infra/constructs/dead-letters.ts), a
 * reserved concurrency, and an IAM role that can do exactly what the pipeline contract lists.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PIPELINE_DEFAULTS, PIPELINE_ENV } from '../../src/jobs/config.js';
import { EVENT_MAX_AGE_HOURS, LAMBDA_RETRY_ATTEMPTS } from '../../src/jobs/deployment.js';
import { KEY_PREFIXES, TRIGGER_PREFIXES } from '../../src/jobs/spec/keys.js';
import { DEFAULT_CONFIG } from '../config.js';
import { DEPLOYED_NODE_MAJOR, ESBUILD_NODE_TARGET, LAMBDA_NODE_RUNTIME } from '../node-runtime.js';
import { LOCK_FILE, REPO_ROOT, STYLIZE_ENTRY } from '../paths.js';
import { consumeDeadLetters, createDeadLetterQueues } from './dead-letters.js';
import type { PipelineLayers } from './layers.js';
import {
  acknowledgeWildcard,
  grantPipelineWork,
  keyPrefixEnvironment,
  type NotificationTargets,
  notificationEnvironment,
} from './policies.js';
import { POWERTOOLS_ENVIRONMENT } from './powertools.js';

/**
 * Left out of the bundle besides the runtime layer's packages: tfjs-node is an optional native package,
 * absent on Lambda; tfjs-core and its WASM backend locate their .wasm files through require.resolve, which
 * a bundle cannot answer, so on Lambda the tfjs engine reports ENGINE_UNAVAILABLE and `auto` runs onnx.
 */
const UNBUNDLED_TFJS = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm'];

/** Bundled CommonJS dependencies call require(); an ES module bundle has to provide it. */
const REQUIRE_SHIM =
  "import { createRequire as nstCreateRequire } from 'node:module'; const require = nstCreateRequire(import.meta.url);";

/** The GPU path the function hands jobs too big for Lambda to. */
export interface BatchTarget {
  readonly jobQueueArn: string;
  readonly jobDefinitionArn: string;
  /** Job definition name: SubmitJob is allowed on every revision of it. */
  readonly jobDefinitionName: string;
  /** How long one attempt of a GPU job may run: the function refuses jobs estimated to take longer. */
  readonly jobTimeout: Duration;
  /** How long a GPU job may wait RUNNABLE: the sweeper leaves a Batch job alone while Batch may hold it. */
  readonly runnableTimeout: Duration;
  /** The GPU memory (MB) one job can count on: the function routes by it. */
  readonly gpuMemoryMb: number;
}

export interface StylizeFunctionProps {
  /** The pipeline bucket: the function is notified of requests in it, reads them and writes outputs. */
  readonly bucket: s3.IBucket;
  /** Where the function tells subscribers about jobs: finished jobs on the topic, every event on the bus. */
  readonly notifications: NotificationTargets;
  /** The runtime and weights layers; the function runs on the runtime layer's architecture. */
  readonly layers: PipelineLayers;
  /**
   * The GPU path for jobs too big for Lambda.
   * @default - none: every job runs in Lambda, continuing in new invocations at deadlines
   */
  readonly batch?: BatchTarget;
  /** The tiles' fan-out: the state machine the function starts (by ARN) and the cost cap of a job. */
  readonly tiles?: { readonly stateMachineArn: string; readonly maxJobGbSeconds: number };
  /**
   * The key prefix the pipeline's folders live under in the bucket: the bucket notification's filters,
   * the role's scope and the function's NST_KEY_PREFIX follow it.
   * @default '' (the bucket's top)
   */
  readonly keyPrefix?: string;
  /**
   * Prefix of the function's name, `<namePrefix>-stylize`.
   * @default 'nst' (DEFAULT_CONFIG.namePrefix)
   */
  readonly namePrefix?: string;
  /**
   * Memory in MB; 10240 gives the function 6 vCPUs.
   * @default 10240 (DEFAULT_CONFIG.memory)
   */
  readonly memorySize?: number;
  /**
   * How long one invocation may run; longer jobs checkpoint and continue in a new invocation.
   * @default 900 seconds (DEFAULT_CONFIG.timeout)
   */
  readonly timeout?: Duration;
  /**
   * Concurrent executions reserved for (and limiting) the function: a storm of uploads waits in Lambda's
   * asynchronous queue (up to 6 hours, then the dead-letter queue) instead of taking the account's
   * concurrency. `false`: no reservation (the account's unreserved pool).
   * @default 10 (DEFAULT_CONFIG.reservedConcurrency)
   */
  readonly reservedConcurrency?: number | false;
  /**
   * How long the function's logs are kept.
   * @default 30 days (DEFAULT_CONFIG.logRetentionDays)
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The handler source.
   * @default functions/stylize/index.ts
   */
  readonly entry?: string;
}

/** The props with the timeout resolved (the constructor applies its default once). */
type WithTimeout = StylizeFunctionProps & { readonly timeout: Duration };

export class StylizeFunction extends Construct {
  readonly function: NodejsFunction;
  readonly deadLetterQueue: sqs.Queue;
  /** Dead letters the function failed to process; an alarm watches it. */
  readonly poisonQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: StylizeFunctionProps) {
    super(scope, id);
    // A fixed name lets the role allow the function to invoke itself (continuations) by an ARN built
    // from the name, instead of a role -> function -> role reference cycle.
    const functionName = `${props.namePrefix ?? DEFAULT_CONFIG.namePrefix}-stylize`;
    const timeout = props.timeout ?? Duration.seconds(DEFAULT_CONFIG.timeout);
    const queues = createDeadLetterQueues(this, timeout);
    this.deadLetterQueue = queues.queue;
    this.poisonQueue = queues.poisonQueue;
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? (DEFAULT_CONFIG.logRetentionDays as logs.RetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = this.createRole(logGroup, props, functionName);
    this.function = this.createFunction(functionName, role, logGroup, { ...props, timeout });
    consumeDeadLetters(this.function, this.deadLetterQueue);
    for (const prefix of TRIGGER_PREFIXES) {
      props.bucket.addObjectCreatedNotification(new s3n.LambdaDestination(this.function), {
        prefix: `${props.keyPrefix ?? ''}${prefix}`,
      });
    }
    acknowledgeNotificationsHandler(Stack.of(this));
  }

  /** A role of our own: log writes scoped to this log group instead of AWSLambdaBasicExecutionRole. */
  private createRole(logGroup: logs.LogGroup, props: StylizeFunctionProps, functionName: string): iam.Role {
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'stylize function: read inputs, styles, jobs and assets; write outputs; notify; submit GPU jobs',
    });
    logGroup.grantWrite(role);
    this.grantPipeline(role, props, functionName);
    return role;
  }

  private createFunction(
    functionName: string,
    role: iam.Role,
    logGroup: logs.LogGroup,
    props: WithTimeout,
  ): NodejsFunction {
    const fn = new NodejsFunction(this, 'Function', {
      functionName,
      entry: props.entry ?? STYLIZE_ENTRY,
      handler: 'handler',
      runtime: LAMBDA_NODE_RUNTIME,
      architecture: props.layers.architecture,
      memorySize: memorySize(props),
      timeout: props.timeout,
      reservedConcurrentExecutions: reservedConcurrency(props),
      role,
      logGroup,
      layers: props.layers.layers,
      retryAttempts: LAMBDA_RETRY_ATTEMPTS,
      maxEventAge: Duration.hours(EVENT_MAX_AGE_HOURS),
      // A dead-letter queue, not an on-failure destination: it keeps the original event as the message
      // body (with ErrorCode and ErrorMessage attributes), which is what the consumer reads.
      deadLetterQueue: this.deadLetterQueue,
      environment: environment(props),
      depsLockFilePath: LOCK_FILE,
      projectRoot: REPO_ROOT,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: ESBUILD_NODE_TARGET,
        mainFields: ['module', 'main'],
        banner: REQUIRE_SHIM,
        minify: true,
        keepNames: true,
        sourceMap: true,
        sourcesContent: false,
        externalModules: [...props.layers.runtimePackages, ...UNBUNDLED_TFJS],
      },
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        `Pinned to Node.js ${DEPLOYED_NODE_MAJOR}: the runtime layer and the Batch image are built and tested for it; ` +
        'moving to a newer runtime is a deliberate upgrade of all three.',
    });
    return fn;
  }

  /** S3 per the contract, SNS publish, PutEvents, self-invocation, and SubmitJob on the pipeline's queue. */
  private grantPipeline(role: iam.Role, props: StylizeFunctionProps, functionName: string): void {
    const functionArn = Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    grantPipelineWork(role, { ...props, keyPrefix: props.keyPrefix ?? '' });
    const statements = [
      new iam.PolicyStatement({
        // A Step Functions task's direct invoke: its spec is written under jobs/ and runs from there.
        sid: 'SubmitWaitedJobs',
        actions: ['s3:PutObject'],
        resources: [props.bucket.arnForObjects(`${props.keyPrefix ?? ''}${KEY_PREFIXES.jobs}*`)],
      }),
      new iam.PolicyStatement({
        sid: 'ContinueInNewInvocation',
        actions: ['lambda:InvokeFunction'],
        resources: [functionArn, `${functionArn}:*`],
      }),
    ];
    acknowledgeWildcard(
      role,
      `${functionArn}:*`,
      'Versions and aliases of this function only: it invokes itself to continue a long job.',
    );
    if (props.batch) statements.push(this.submitJobStatement(role, props.batch));
    if (props.tiles)
      statements.push(
        new iam.PolicyStatement({
          sid: 'StartTiles',
          actions: ['states:StartExecution'],
          resources: [props.tiles.stateMachineArn],
        }),
      );
    for (const statement of statements) role.addToPrincipalPolicy(statement);
  }

  /** SubmitJob on the pipeline's queue and every revision of its job definition. */
  private submitJobStatement(role: iam.Role, batch: BatchTarget): iam.PolicyStatement {
    const definition = Stack.of(this).formatArn({
      service: 'batch',
      resource: 'job-definition',
      resourceName: batch.jobDefinitionName,
    });
    acknowledgeWildcard(
      role,
      `${definition}:*`,
      'Revisions of the pipeline job definition only: every deploy registers a new revision.',
    );
    return new iam.PolicyStatement({
      sid: 'SubmitGpuJobs',
      actions: ['batch:SubmitJob'],
      resources: [batch.jobQueueArn, definition, `${definition}:*`],
    });
  }
}

const memorySize = (props: StylizeFunctionProps) => props.memorySize ?? DEFAULT_CONFIG.memory;

function reservedConcurrency(props: StylizeFunctionProps): number | undefined {
  const reserved = props.reservedConcurrency ?? DEFAULT_CONFIG.reservedConcurrency;
  return reserved === false ? undefined : reserved;
}

/** The variables of the pipeline contract (src/jobs/config.ts). */
function environment(props: WithTimeout): Record<string, string> {
  return {
    [PIPELINE_ENV.weightsDir]: props.layers.weightsDir,
    [PIPELINE_ENV.bucket]: props.bucket.bucketName,
    ...keyPrefixEnvironment(props.keyPrefix ?? ''),
    ...notificationEnvironment(props.notifications),
    [PIPELINE_ENV.engine]: PIPELINE_DEFAULTS.engine,
    [PIPELINE_ENV.deadlineMarginSeconds]: String(PIPELINE_DEFAULTS.deadlineMarginSeconds),
    [PIPELINE_ENV.memoryMb]: String(memorySize(props)),
    [PIPELINE_ENV.functionTimeoutSeconds]: String(props.timeout.toSeconds()),
    ...(props.batch && {
      [PIPELINE_ENV.batchJobQueue]: props.batch.jobQueueArn,
      [PIPELINE_ENV.batchJobDefinition]: props.batch.jobDefinitionArn,
      [PIPELINE_ENV.batchTimeoutSeconds]: String(props.batch.jobTimeout.toSeconds()),
      [PIPELINE_ENV.batchRunnableTimeoutSeconds]: String(props.batch.runnableTimeout.toSeconds()),
      [PIPELINE_ENV.batchGpuMemoryMb]: String(props.batch.gpuMemoryMb),
    }),
    ...(props.tiles && {
      [PIPELINE_ENV.tilesStateMachineArn]: props.tiles.stateMachineArn,
      [PIPELINE_ENV.maxJobGbSeconds]: String(props.tiles.maxJobGbSeconds),
    }),
    ...POWERTOOLS_ENVIRONMENT,
    NODE_OPTIONS: '--enable-source-maps',
    // onnxruntime otherwise persists a telemetry device id under ~/.cache, which Lambda's sandbox user
    // cannot write, and logs a plain-text warning at every cold start (test/deployed/stylize-function.test.ts).
    ORT_DISABLE_TELEMETRY: '1',
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
