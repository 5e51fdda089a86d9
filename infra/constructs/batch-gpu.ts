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
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { NstConfig } from '../config.js';
import { acknowledgePrefixWildcards, pipelineS3Statements } from './policies.js';
import { REPO_ROOT } from './stylize-function.js';

/**
 * The image's build context is the repository, cut down (Docker ignore syntax) to what the Dockerfile
 * copies, so synth stages a few hundred kilobytes instead of node_modules.
 */
export const BATCH_IMAGE_CONTEXT = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!.npmrc',
  '!bin',
  '!src',
  '!functions',
  'functions/*',
  '!functions/batch',
];
export const BATCH_DOCKERFILE = 'functions/batch/Dockerfile';

/** One job per g5.xlarge / g6.xlarge (4 vCPUs, 16 GiB, one GPU), leaving the ECS agent its memory. */
const JOB_VCPUS = 4;
const JOB_MEMORY = Size.gibibytes(14);

export interface BatchGpuProps {
  readonly config: NstConfig;
  readonly bucket: s3.IBucket;
  readonly topic: sns.ITopic;
  /** Receives the VPC flow logs when the stack creates the VPC. */
  readonly flowLogsBucket: s3.IBucket;
  /** The image's build context (default: this repository) and Dockerfile within it. */
  readonly image?: { readonly directory: string; readonly file: string };
}

export class BatchGpu extends Construct {
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobDefinitionName: string;

  constructor(scope: Construct, id: string, props: BatchGpuProps) {
    super(scope, id);
    const { config } = props;
    const vpc = config.vpcId
      ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: config.vpcId })
      : this.createVpc(props.flowLogsBucket);

    const computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'ComputeEnvironment', {
      vpc,
      // A given VPC: CDK's default choice (its private subnets with egress when it has them).
      vpcSubnets: config.vpcId ? undefined : { subnetType: ec2.SubnetType.PUBLIC },
      // "g5" is a family (every size Batch finds fitting), "g5.2xlarge" one size.
      instanceClasses: config.instanceTypes.filter((t) => !t.includes('.')) as ec2.InstanceClass[],
      instanceTypes: config.instanceTypes.filter((t) => t.includes('.')).map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      minvCpus: 0,
      maxvCpus: config.maxvCpus,
      spot: config.spot,
      allocationStrategy: config.spot
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

    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      jobQueueName: `${config.prefix}-gpu`,
      computeEnvironments: [{ computeEnvironment, order: 1 }],
    });

    const jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'GPU stylize jobs: read inputs, styles and jobs; write outputs; notify',
    });
    for (const statement of pipelineS3Statements(props.bucket)) jobRole.addToPrincipalPolicy(statement);
    jobRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }),
    );
    acknowledgePrefixWildcards(jobRole, props.bucket);

    const container = new batch.EcsEc2ContainerDefinition(this, 'Container', {
      image: ecs.ContainerImage.fromAsset(props.image?.directory ?? REPO_ROOT, {
        file: props.image?.file ?? BATCH_DOCKERFILE,
        exclude: BATCH_IMAGE_CONTEXT,
        ignoreMode: IgnoreMode.DOCKER,
        platform: Platform.LINUX_AMD64,
      }),
      gpu: 1,
      cpu: JOB_VCPUS,
      memory: JOB_MEMORY,
      jobRole,
      environment: {
        NST_TOPIC_ARN: props.topic.topicArn,
        NST_ENGINE: 'onnx',
        POWERTOOLS_SERVICE_NAME: 'serverless-style-transfer',
        POWERTOOLS_METRICS_NAMESPACE: 'ServerlessStyleTransfer',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'stylize',
        logGroup: new logs.LogGroup(this, 'Logs', {
          retention: config.logRetentionDays as logs.RetentionDays,
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

    this.jobDefinitionName = `${config.prefix}-stylize-gpu`;
    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      jobDefinitionName: this.jobDefinitionName,
      container,
      timeout: Duration.minutes(config.batchTimeoutMinutes),
      retryAttempts: 3,
      // Retried: a reclaimed Spot instance, a failed image pull, and the worker's exit code 1 (a transient
      // failure; the next attempt resumes from the checkpoint). Any other exit (0 done, 2 misconfigured)
      // ends the job; a final FAILED state reaches the function through the BatchJobFailed rule.
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: '1' })),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.NON_ZERO_EXIT_CODE),
      ],
    });
  }

  /** Two public subnets, no NAT gateway, flow logs to S3, an S3 gateway endpoint (free, keeps S3 traffic private). */
  private createVpc(flowLogsBucket: s3.IBucket): ec2.IVpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toS3(flowLogsBucket, 'vpc-flow-logs/'),
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
}
