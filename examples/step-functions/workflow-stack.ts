/**
 * An example of a workflow that waits on a style-transfer job: a Step Functions state machine that
 * stylises a photo (the pipeline's function invoked with `.waitForTaskToken`: the job answers the task at
 * its end) and then copies the painting into another bucket. The pipeline lives under `art/` in a bucket of
 * its own here; in your app, pass yours.
 *
 * In your own app, import from the package: `from 'serverless-style-transfer/cdk'`.
 */
import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { acknowledgeWildcard, type LayerDirs, StyleTransferPipeline } from '../../infra/cdk.js';

/** Where the pipeline's folders live in its bucket. */
const PREFIX = 'art/';

export interface StyliseThenCopyProps extends StackProps {
  /** The pipeline's Lambda layers, built before synth (`buildLayers`). */
  readonly layers: LayerDirs;
}

/**
 * Input: a job spec without its token, e.g.
 * `{ "content": "assets/harbour.jpg", "styles": [{ "key": "styles/starry.jpg" }], "options": { "size": 768 } }`.
 * Output: the input, with the job's notification as `job` and the copy as `copy`.
 */
export class StyliseThenCopyStack extends Stack {
  readonly pipeline: StyleTransferPipeline;
  readonly gallery: s3.Bucket;
  readonly workflow: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: StyliseThenCopyProps) {
    super(scope, id, props);
    this.pipeline = new StyleTransferPipeline(this, 'Pipeline', {
      layers: props.layers,
      prefix: PREFIX,
      gpu: false,
      namePrefix: 'gallery',
    });
    this.gallery = new s3.Bucket(this, 'Gallery', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.pipeline.storage?.logsBucket,
      serverAccessLogsPrefix: 'gallery/',
    });
    this.workflow = new sfn.StateMachine(this, 'StyliseThenCopy', {
      definitionBody: sfn.DefinitionBody.fromChainable(this.stylise().next(this.copyToGallery())),
      timeout: Duration.hours(6),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'WorkflowLogs', { removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
      },
    });
    this.acknowledgeWildcards(this.workflow.role);
  }

  /** The workflow role's wildcards, each as narrow as its service allows (cdk-nag's IAM5). */
  private acknowledgeWildcards(role: iam.IRole): void {
    const because = (resource: string, reason: string) => acknowledgeWildcard(role, resource, reason);
    because(
      `${this.pipeline.stylize.function.functionArn}:*`,
      "The function's versions: LambdaInvoke grants them.",
    );
    because(
      this.gallery.arnForObjects('paintings/*'),
      "The gallery's paintings/ folder: the copies go there.",
    );
    because(
      this.pipeline.bucket.arnForObjects(`${PREFIX}outputs/*`),
      "The pipeline's results: a copy reads one.",
    );
    because('*', 'X-Ray tracing: PutTraceSegments and its kin take no resource.');
  }

  /**
   * The job: a direct invoke with the spec plus the task's token. The function writes the spec under
   * art/jobs/ and returns; the job answers the token when it ends (SendTaskSuccess with its notification,
   * SendTaskFailure with its error code), and beats while it runs: a job whose worker died is caught by
   * the heartbeat timeout.
   */
  private stylise(): tasks.LambdaInvoke {
    const stylise = new tasks.LambdaInvoke(this, 'Stylise', {
      lambdaFunction: this.pipeline.stylize.function,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        content: sfn.JsonPath.stringAt('$.content'),
        styles: sfn.JsonPath.listAt('$.styles'),
        options: sfn.JsonPath.objectAt('$.options'),
        taskToken: sfn.JsonPath.taskToken,
      }),
      heartbeatTimeout: sfn.Timeout.duration(Duration.minutes(30)),
      taskTimeout: sfn.Timeout.duration(Duration.hours(4)),
      resultPath: '$.job',
    });
    const failed = new sfn.Fail(this, 'StyliseFailed', {
      errorPath: '$.failure.Error',
      causePath: '$.failure.Cause',
    });
    // The function is often at its reserved concurrency (its own jobs, a tiled job's tiles): wait for it.
    stylise.addRetry({
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(10),
      backoffRate: 2,
      maxAttempts: 6,
    });
    stylise.addCatch(failed, { resultPath: '$.failure' });
    return stylise;
  }

  /** The painting, copied from the pipeline's outputs into the gallery bucket under the job's id. */
  private copyToGallery(): sfn.IChainable {
    const source = this.pipeline.bucket.arnForObjects(`${PREFIX}outputs/*`);
    return new tasks.CallAwsService(this, 'CopyToGallery', {
      service: 's3',
      action: 'copyObject',
      parameters: {
        Bucket: this.gallery.bucketName,
        CopySource: sfn.JsonPath.format(
          '{}/{}',
          sfn.JsonPath.stringAt('$.job.bucket'),
          sfn.JsonPath.stringAt('$.job.output.key'),
        ),
        Key: sfn.JsonPath.format('paintings/{}', sfn.JsonPath.stringAt('$.job.jobId')),
      },
      // s3:copyObject is no IAM action: the copy reads the result and writes the gallery.
      iamResources: [this.gallery.arnForObjects('paintings/*')],
      iamAction: 's3:PutObject',
      additionalIamStatements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [source] })],
      resultPath: '$.copy',
    });
  }
}
