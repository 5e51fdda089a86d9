/**
 * The GPU path for jobs too big for Lambda's 15 minutes: an AWS Batch compute environment of g5/g6
 * instances (EC2, the NVIDIA ECS AMI) that scales from zero, a job queue, and a job definition that runs
 * the functions/batch image with one GPU. `cdk synth` only stages the image's build context and records
 * it; Docker builds and pushes it at `cdk deploy`.
 *
 * Networking: public subnets and no NAT gateway, so an idle stack costs nothing. Instances get public
 * addresses for outbound calls only (ECR, S3, Batch); their security group admits no inbound traffic.
 */
import { Duration, IgnoreMode, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { NstError } from '../../src/errors.js';
import { PIPELINE_ENV, type PipelineConfig } from '../../src/jobs/config.js';
import { BATCH_JOB_ATTEMPTS } from '../../src/jobs/deployment.js';
import { DEFAULT_CONFIG } from '../config.js';
import { BATCH_IMAGE } from '../paths.js';
import {
  grantPipelineWork,
  keyPrefixEnvironment,
  type NotificationTargets,
  notificationEnvironment,
} from './policies.js';
import { POWERTOOLS_ENVIRONMENT } from './powertools.js';

/** One job per g5.xlarge / g6.xlarge (4 vCPUs, 16 GiB, one GPU), leaving the ECS agent its memory. */
const JOB_VCPUS = 4;
const JOB_MEMORY = Size.gibibytes(14);

/**
 * Memory (MB) of one GPU of each instance family the compute environment may use; a job gets one GPU, so
 * a multi-GPU size has the same per-job memory. The function routes by the smallest of the configured
 * families (a job may land on any of them).
 */
const GPU_MEMORY_MB: Readonly<Record<string, number>> = {
  g4dn: 16_384, // NVIDIA T4
  g5: 24_576, // A10G
  g6: 24_576, // L4
  gr6: 24_576, // L4
  g6e: 49_152, // L40S
  p3: 16_384, // V100 16 GB
  p4d: 40_960, // A100 40 GB
  p5: 81_920, // H100
};

/** The GPU memory a job can count on with these instance families or types ("g5", "g6.2xlarge"). */
export function gpuMemoryMb(instanceTypes: readonly string[]): number {
  const sizes = instanceTypes.map((type) => {
    const family = type.split('.')[0];
    const mb = GPU_MEMORY_MB[family];
    if (mb === undefined) {
      throw new NstError(
        'INVALID_OPTION',
        `instanceTypes: no GPU memory known for "${type}" (families known: ${Object.keys(GPU_MEMORY_MB).join(', ')})`,
      );
    }
    return mb;
  });
  return Math.min(...sizes);
}

/**
 * The job queue's reasons for cancelling a job that waits RUNNABLE too long: no instance capacity (or
 * quota), or no configured instance that fits the job. Both end the job FAILED with this reason as its
 * statusReason, which the stack's BatchJobFailed rule delivers to the function (BATCH_NO_CAPACITY).
 */
const RUNNABLE_CANCEL_REASONS = [
  batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
  batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
] as const;

/** The GPU worker always runs the onnx engine (its CUDA execution provider); the image sets the same. */
export const BATCH_ENGINE: PipelineConfig['engine'] = 'onnx';

export interface BatchGpuProps {
  /** The pipeline bucket the jobs read requests from and write outputs to. */
  readonly bucket: s3.IBucket;
  /** Where the jobs tell subscribers about them: finished jobs on the topic, every event on the bus. */
  readonly notifications: NotificationTargets;
  /**
   * Receives the VPC flow logs when the construct creates the VPC.
   * @default - a CloudWatch Logs group of the construct's, kept `logRetention`
   */
  readonly flowLogsBucket?: s3.IBucket;
  /**
   * The key prefix the pipeline's folders live under in the bucket.
   * @default '' (the bucket's top)
   */
  readonly keyPrefix?: string;
  /**
   * Prefix of the physical names: the job queue `<namePrefix>-gpu`, the job definition
   * `<namePrefix>-stylize-gpu`.
   * @default 'nst' (DEFAULT_CONFIG.namePrefix)
   */
  readonly namePrefix?: string;
  /**
   * An existing VPC for the instances, looked up at synth (the stack needs an account and region); its
   * private subnets with egress are used when it has them.
   * @default - a new VPC: two public subnets, no NAT gateway, flow logs to `flowLogsBucket`
   */
  readonly vpcId?: string;
  /**
   * EC2 instance families ("g5": every size Batch finds fitting) or types ("g5.2xlarge").
   * @default ['g5', 'g6'] (DEFAULT_CONFIG.instanceTypes)
   */
  readonly instanceTypes?: readonly string[];
  /**
   * The compute environment's vCPU ceiling (it scales from zero).
   * @default 16 (DEFAULT_CONFIG.maxvCpus)
   */
  readonly maxvCpus?: number;
  /**
   * Spot instances, with the price-capacity-optimised strategy; a reclaimed instance's job is retried.
   * @default false (DEFAULT_CONFIG.spot)
   */
  readonly spot?: boolean;
  /**
   * How long one attempt of a job may run before Batch stops it (and marks it failed).
   * @default 240 minutes (DEFAULT_CONFIG.batchTimeoutMinutes)
   */
  readonly jobTimeout?: Duration;
  /**
   * How long a job may wait RUNNABLE (at the head of the queue, for capacity) before the queue cancels it.
   * Batch allows 10 minutes to 24 hours.
   * @default 3600 seconds (DEFAULT_CONFIG.batchRunnableTimeoutSeconds)
   */
  readonly runnableTimeout?: Duration;
  /**
   * How long the jobs' logs are kept.
   * @default 30 days (DEFAULT_CONFIG.logRetentionDays)
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The image's build context and Dockerfile within it.
   * @default this repository and functions/batch/Dockerfile (BATCH_IMAGE)
   */
  readonly image?: { readonly directory: string; readonly file: string };
}

export class BatchGpu extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobDefinitionName: string;
  /** How long one attempt of a job may run. */
  readonly jobTimeout: Duration;
  /** How long a job may wait RUNNABLE before the queue cancels it. */
  readonly runnableTimeout: Duration;
  /** The GPU memory (MB) one job can count on (the smallest of the configured instance families). */
  readonly gpuMemoryMb: number;

  constructor(scope: Construct, id: string, props: BatchGpuProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? DEFAULT_CONFIG.namePrefix;
    this.jobTimeout = props.jobTimeout ?? Duration.minutes(DEFAULT_CONFIG.batchTimeoutMinutes);
    this.gpuMemoryMb = gpuMemoryMb(props.instanceTypes ?? DEFAULT_CONFIG.instanceTypes);
    const computeEnvironment = this.createComputeEnvironment(props);
    this.runnableTimeout =
      props.runnableTimeout ?? Duration.seconds(DEFAULT_CONFIG.batchRunnableTimeoutSeconds);
    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      jobQueueName: `${prefix}-gpu`,
      computeEnvironments: [{ computeEnvironment, order: 1 }],
      jobStateTimeLimitActions: RUNNABLE_CANCEL_REASONS.map((reason) => ({
        action: batch.JobStateTimeLimitActionsAction.CANCEL,
        state: batch.JobStateTimeLimitActionsState.RUNNABLE,
        maxTime: this.runnableTimeout,
        reason,
      })),
    });
    const container = this.createContainer(this.createJobRole(props), props);
    this.jobDefinitionName = `${prefix}-stylize-gpu`;
    this.jobDefinition = this.createJobDefinition(container);
  }

  private createComputeEnvironment(props: BatchGpuProps): batch.ManagedEc2EcsComputeEnvironment {
    const instanceTypes = props.instanceTypes ?? DEFAULT_CONFIG.instanceTypes;
    const spot = props.spot ?? DEFAULT_CONFIG.spot;
    const computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'ComputeEnvironment', {
      vpc: props.vpcId ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId }) : this.createVpc(props),
      // A given VPC: CDK's default choice (its private subnets with egress when it has them).
      vpcSubnets: props.vpcId ? undefined : { subnetType: ec2.SubnetType.PUBLIC },
      instanceClasses: instanceTypes.filter((t) => !t.includes('.')) as ec2.InstanceClass[],
      instanceTypes: instanceTypes.filter((t) => t.includes('.')).map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      minvCpus: 0,
      maxvCpus: props.maxvCpus ?? DEFAULT_CONFIG.maxvCpus,
      spot,
      allocationStrategy: spot
        ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
        : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      launchTemplate: this.imdsv2LaunchTemplate(),
    });
    Validations.of(computeEnvironment).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason:
        'The instance role of a Batch ECS compute environment: the AWS-managed policy is what the ECS agent ' +
        'needs and AWS keeps it current.',
    });
    return computeEnvironment;
  }

  /** Two public subnets, no NAT gateway, flow logs, an S3 gateway endpoint (free, keeps S3 traffic private). */
  private createVpc({ flowLogsBucket, logRetention }: BatchGpuProps): ec2.IVpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    vpc.addFlowLog('FlowLogs', {
      destination: flowLogsBucket
        ? ec2.FlowLogDestination.toS3(flowLogsBucket, 'vpc-flow-logs/')
        : ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogGroup', {
              retention: logRetention ?? (DEFAULT_CONFIG.logRetentionDays as logs.RetentionDays),
              removalPolicy: RemovalPolicy.DESTROY,
            }),
          ),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    return vpc;
  }

  /** Requires IMDSv2 tokens on the GPU instances (Batch uses the launch template's default version). */
  private imdsv2LaunchTemplate(): ec2.ILaunchTemplate {
    const template = new ec2.CfnLaunchTemplate(this, 'LaunchTemplate', {
      launchTemplateData: {
        metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 2 },
      },
    });
    return ec2.LaunchTemplate.fromLaunchTemplateAttributes(this, 'Imdsv2', {
      launchTemplateId: template.ref,
      versionNumber: template.attrLatestVersionNumber,
    });
  }

  /**
   * The pipeline's S3 permissions, SNS publish, PutEvents and answering a waiting Step Functions task: what
   * the worker does, and nothing else.
   */
  private createJobRole(props: BatchGpuProps): iam.Role {
    const jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'GPU stylize jobs: read inputs, styles, jobs and assets; write outputs; notify',
    });
    grantPipelineWork(jobRole, { ...props, keyPrefix: props.keyPrefix ?? '' });
    return jobRole;
  }

  private createContainer(jobRole: iam.Role, props: BatchGpuProps): batch.EcsEc2ContainerDefinition {
    const container = new batch.EcsEc2ContainerDefinition(this, 'Container', {
      image: ecs.ContainerImage.fromAsset(props.image?.directory ?? BATCH_IMAGE.directory, {
        file: props.image?.file ?? BATCH_IMAGE.file,
        exclude: [...BATCH_IMAGE.exclude],
        ignoreMode: IgnoreMode.DOCKER,
        platform: Platform.LINUX_AMD64,
      }),
      gpu: 1,
      cpu: JOB_VCPUS,
      memory: JOB_MEMORY,
      jobRole,
      environment: {
        ...keyPrefixEnvironment(props.keyPrefix ?? ''),
        ...notificationEnvironment(props.notifications),
        [PIPELINE_ENV.engine]: BATCH_ENGINE,
        ...POWERTOOLS_ENVIRONMENT,
      },
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'stylize',
        logGroup: new logs.LogGroup(this, 'Logs', {
          retention: props.logRetention ?? (DEFAULT_CONFIG.logRetentionDays as logs.RetentionDays),
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      }),
    });
    Validations.of(container).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The execution role pulls the image: ecr:GetAuthorizationToken has no resource to scope to (AWS ' +
        'requires "*"); the layer reads are scoped to the assets repository.',
    });
    return container;
  }

  /**
   * Retried: a reclaimed Spot instance, a failed image pull, and the worker's exit code 1 (a transient
   * failure; the next attempt resumes from the checkpoint). Any other exit (0 done, 2 misconfigured) ends
   * the job; a final FAILED state reaches the function through the stack's BatchJobFailed rule.
   */
  private createJobDefinition(container: batch.EcsEc2ContainerDefinition): batch.EcsJobDefinition {
    return new batch.EcsJobDefinition(this, 'JobDefinition', {
      jobDefinitionName: this.jobDefinitionName,
      container,
      timeout: this.jobTimeout,
      retryAttempts: BATCH_JOB_ATTEMPTS,
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: '1' })),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.NON_ZERO_EXIT_CODE),
      ],
    });
  }
}
