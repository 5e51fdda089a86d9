/**
 * The permissions and settings the Lambda function and the Batch worker share: S3 (read what jobs read,
 * READ_PREFIXES; read, write, tag and delete everything under outputs/), and where they tell subscribers
 * about jobs (the SNS topic and the EventBridge bus).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
// Internal to cdk-nag (no exports map), but it is exactly how findings name resources.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';
import { PIPELINE_ENV } from '../../src/jobs/config.js';
import { KEY_PREFIXES, READ_PREFIXES } from '../../src/jobs/spec/keys.js';
import { EVENT_SOURCE } from '../../src/product.js';

/** Where the pipeline tells subscribers about jobs: finished jobs on the topic, every event on the bus. */
export interface NotificationTargets {
  readonly topic: sns.ITopic;
  readonly eventBus: events.IEventBus;
}

function notificationStatements({ topic, eventBus }: NotificationTargets): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }),
    new iam.PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [eventBus.eventBusArn],
      // The pipeline's own events only: a rule matching the source can trust it.
      conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
    }),
  ];
}

/**
 * Answering the Step Functions task that waits on a job (its spec's token). The task-token actions take no
 * resource: the token itself names the task, and only a holder of it can answer.
 */
function taskTokenStatement(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'AnswerWaitingTasks',
    actions: ['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess'],
    resources: ['*'],
  });
}

/** The wildcard of taskTokenStatement, acknowledged on `role` for cdk-nag. */
function acknowledgeTaskTokenWildcard(role: IConstruct): void {
  acknowledgeWildcard(
    role,
    '*',
    'SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat support no resource-level permissions: the task token in each request names the task.',
  );
}

/** The pipeline contract's variable (src/jobs/config.ts) of the key prefix; none for the bucket's top. */
export function keyPrefixEnvironment(keyPrefix: string): Record<string, string> {
  return keyPrefix ? { [PIPELINE_ENV.keyPrefix]: keyPrefix } : {};
}

/** The variables of the pipeline contract (src/jobs/config.ts) that name them. */
export function notificationEnvironment({ topic, eventBus }: NotificationTargets): Record<string, string> {
  return { [PIPELINE_ENV.topicArn]: topic.topicArn, [PIPELINE_ENV.eventBus]: eventBus.eventBusName };
}

/** S3 for the pipeline whose folders are under `keyPrefix` in `bucket`, and nothing else of the bucket. */
function pipelineS3Statements(bucket: s3.IBucket, keyPrefix: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'ReadRequests',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: READ_PREFIXES.map((p) => bucket.arnForObjects(`${keyPrefix}${p}*`)),
    }),
    new iam.PolicyStatement({
      sid: 'WriteOutputs',
      // PutObjectTagging: temporary objects are written with the nst-temporary tag. DeleteObject: a failed
      // job's leftover result (a worker that died between the result and job.json) is removed.
      actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject', 's3:PutObjectTagging'],
      resources: [bucket.arnForObjects(`${keyPrefix}${KEY_PREFIXES.outputs}*`)],
    }),
    // The pipeline lists styles/<name>.* to find a style's extension, and tells a missing object (404)
    // from a failure; without ListBucket, S3 answers 403 for keys that do not exist. In a shared bucket,
    // only listings under the pipeline's prefix.
    new iam.PolicyStatement({
      sid: 'ListKeys',
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      ...(keyPrefix ? { conditions: { StringLike: { 's3:prefix': `${keyPrefix}*` } } } : {}),
    }),
  ];
}

/**
 * Acknowledges cdk-nag's IAM5 finding for one wildcard resource of `role`. The finding names the resource
 * as cdk-nag flattens it (`<Bucket.Arn>/inputs/*`, or a literal ARN when the stack has an environment),
 * so the id is computed with cdk-nag's own flattening rather than spelt by hand.
 */
export function acknowledgeWildcard(role: IConstruct, resource: string, reason: string): void {
  const flat = flattenCfnReference(Stack.of(role).resolve(resource));
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
}

/** The key-prefix wildcards of pipelineS3Statements. */
function acknowledgePrefixWildcards(role: IConstruct, bucket: s3.IBucket, keyPrefix: string): void {
  for (const prefix of Object.values(KEY_PREFIXES)) {
    acknowledgeWildcard(
      role,
      bucket.arnForObjects(`${keyPrefix}${prefix}*`),
      `Objects under the ${keyPrefix}${prefix} prefix of the pipeline bucket only: the prefix is the scope.`,
    );
  }
}

/** Where a worker's role works: the pipeline's bucket, its key prefix, and where it tells about jobs. */
export interface PipelineWork {
  readonly bucket: s3.IBucket;
  readonly keyPrefix: string;
  readonly notifications: NotificationTargets;
}

/**
 * What every worker of the pipeline does (the function's role and the GPU job's): S3 per the contract,
 * telling the topic and the bus, answering a waiting task; with cdk-nag's acknowledgements of their
 * wildcards.
 */
export function grantPipelineWork(role: iam.Role, { bucket, keyPrefix, notifications }: PipelineWork): void {
  const statements = [
    ...pipelineS3Statements(bucket, keyPrefix),
    ...notificationStatements(notifications),
    taskTokenStatement(),
  ];
  for (const statement of statements) role.addToPrincipalPolicy(statement);
  acknowledgePrefixWildcards(role, bucket, keyPrefix);
  acknowledgeTaskTokenWildcard(role);
}
