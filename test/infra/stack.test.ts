/**
 * The stack with cdk.json's defaults, synthesised once: every resource the issue asks for, checked on the
 * template, and cdk-nag's AWS Solutions rules with nothing left unacknowledged.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { DEPLOYED_NODE_MAJOR, LAMBDA_NODE_RUNTIME } from '../../infra/node-runtime.js';
import { RUNTIME_PACKAGES } from '../../layers/runtime/build.js';
import {
  allStatements,
  asList,
  type Cfn,
  listFiles,
  nagFindings,
  only,
  render,
  resourcesOfType,
  roleStatements,
  type Statement,
  synthesise,
  unreachableAlarms,
} from './helpers.js';

const synth = synthesise();
const { template, stack } = synth;
afterAll(synth.dispose);

const ref = (id: string) => ({ Ref: id });
const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const objectsUnder = (bucketId: string, prefix: string) => ({
  'Fn::Join': ['', [arn(bucketId), `/${prefix}*`]],
});

const bucket = Object.entries(resourcesOfType(template, 'AWS::S3::Bucket')).find(
  ([, r]) => r.Properties?.VersioningConfiguration,
)!;
const bucketId = bucket[0];
const fn = Object.entries(resourcesOfType(template, 'AWS::Lambda::Function')).find(
  ([, r]) => r.Properties?.FunctionName === 'nst-stylize',
)!;
const fnId = fn[0];
const fnProps = fn[1].Properties as Record<string, Cfn>;
const queues = Object.entries(resourcesOfType(template, 'AWS::SQS::Queue')).map(([id, r]) => ({
  id,
  properties: (r.Properties ?? {}) as Record<string, Cfn>,
}));
const dlq = queues.find((q) => q.properties.RedrivePolicy)!;
const poison = queues.find((q) => q !== dlq)!;
const rules = Object.entries(resourcesOfType(template, 'AWS::Events::Rule')).map(([id, r]) => ({
  id,
  properties: (r.Properties ?? {}) as Record<string, Cfn>,
}));
const batchRule = rules.find((r) => r.properties.EventPattern?.source?.[0] === 'aws.batch')!;
const sweepRule = rules.find((r) => r.properties.ScheduleExpression)!;
const topic = only(template, 'AWS::SNS::Topic');
const queue = only(template, 'AWS::Batch::JobQueue');
const jobDefinition = only(template, 'AWS::Batch::JobDefinition');
const queueArn = { 'Fn::GetAtt': [queue.id, 'JobQueueArn'] };
const roleId = (fnProps.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
const fnStatements = roleStatements(template, roleId);
const statementFor = (statements: Statement[], action: string) =>
  statements.filter((s) => asList(s.Action).includes(action));

describe('logical ids', () => {
  it('are the ones a deployed stack holds: the pipeline construct (id Default) adds nothing to them', () => {
    // Ids from before the stack became a thin app around StyleTransferPipeline: a changed one would make
    // CloudFormation replace the resource (the bucket is retained, so a new, empty one would take its place).
    const deployed = {
      'AWS::S3::Bucket': ['StorageBucket5CB7C8EA', 'StorageAccessLogs96FB524C'],
      'AWS::SNS::Topic': ['NotificationsTopicAE679CBD'],
      'AWS::SQS::Queue': ['StylizeDeadLetterQueue0EA39B25', 'StylizePoisonQueue1A3944A9'],
      'AWS::Lambda::Function': ['StylizeFunction2C6C9029'],
      'AWS::Lambda::LayerVersion': ['RuntimeLayer30C65090', 'Vgg19Layer73624A45'],
      'AWS::StepFunctions::StateMachine': ['TilesStateMachine038FA6B3'],
      'AWS::Batch::JobQueue': ['GpuJobQueue9D52A117'],
      'AWS::Batch::ComputeEnvironment': ['GpuComputeEnvironment6FAB0BE6'],
      'AWS::EC2::VPC': ['GpuVpc979DAD19'],
    };
    for (const [type, ids] of Object.entries(deployed))
      expect(Object.keys(resourcesOfType(template, type)), type).toEqual(expect.arrayContaining(ids));
  });
});

describe('bucket', () => {
  it('blocks public access, enforces TLS, encrypts, versions and logs to a separate bucket', () => {
    const props = bucket[1].Properties as Record<string, Cfn>;
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual(
      {
        SSEAlgorithm: 'AES256',
      },
    );
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const logsBucketId = props.LoggingConfiguration.DestinationBucketName.Ref;
    expect(logsBucketId).not.toBe(bucketId);
    for (const id of [bucketId, logsBucketId]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: ref(id),
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
    template.hasResource('AWS::S3::Bucket', { Properties: Match.objectLike({}), DeletionPolicy: 'Retain' });
  });

  it('expires objects tagged nst-temporary=true after 7 days', () => {
    const rules = (bucket[1].Properties as Cfn).LifecycleConfiguration.Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({
        Status: 'Enabled',
        ExpirationInDays: 7,
        TagFilters: [{ Key: 'nst-temporary', Value: 'true' }],
      }),
    );
  });

  it('notifies the function of new objects under inputs/ and jobs/ only', () => {
    const { properties } = only(template, 'Custom::S3BucketNotifications');
    const config = properties.NotificationConfiguration as Record<string, Cfn[]>;
    expect(Object.keys(config)).toEqual(['LambdaFunctionConfigurations']);
    expect(config.LambdaFunctionConfigurations).toEqual(
      ['inputs/', 'jobs/'].map((prefix) => ({
        Events: ['s3:ObjectCreated:*'],
        Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } },
        LambdaFunctionArn: arn(fnId),
      })),
    );
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      FunctionName: arn(fnId),
      SourceArn: arn(bucketId),
    });
  });
});

describe('stylize function', () => {
  it(`runs Node ${DEPLOYED_NODE_MAJOR} on x86_64 with 10 GB and 15 minutes, both layers, and its log group`, () => {
    expect(fnProps).toMatchObject({
      Runtime: LAMBDA_NODE_RUNTIME.name,
      Architectures: ['x86_64'],
      Handler: 'index.handler',
      MemorySize: 10240,
      Timeout: 900,
    });
    expect(fnProps.ReservedConcurrentExecutions).toBe(10);
    const layers = resourcesOfType(template, 'AWS::Lambda::LayerVersion');
    expect(fnProps.Layers).toEqual(Object.keys(layers).map(ref));
    expect(Object.values(layers).map((l) => l.Properties?.Description)).toEqual([
      'onnxruntime-node and sharp for linux x86_64',
      'VGG-19 conv1_1..conv5_1 weights at /opt/vgg19',
    ]);
    const logGroupId = fnProps.LoggingConfig.LogGroup.Ref;
    template.hasResourceProperties('AWS::Logs::LogGroup', Match.objectLike({ RetentionInDays: 30 }));
    expect(resourcesOfType(template, 'AWS::Logs::LogGroup')[logGroupId].Properties).toEqual({
      RetentionInDays: 30,
    });
  });

  it('has the environment of the pipeline contract', () => {
    expect(fnProps.Environment.Variables).toEqual({
      NST_WEIGHTS_DIR: '/opt/vgg19',
      NST_PIPELINE_BUCKET: ref(bucketId),
      NST_TOPIC_ARN: ref(topic.id),
      NST_EVENT_BUS: 'default',
      NST_ENGINE: 'auto',
      NST_DEADLINE_MARGIN_SECONDS: '60',
      NST_MEMORY_MB: String(fnProps.MemorySize),
      NST_FUNCTION_TIMEOUT_SECONDS: String(fnProps.Timeout),
      NST_BATCH_JOB_QUEUE: queueArn,
      NST_BATCH_JOB_DEFINITION: ref(jobDefinition.id),
      NST_BATCH_TIMEOUT_SECONDS: String(jobDefinition.properties.Timeout.AttemptDurationSeconds),
      NST_BATCH_RUNNABLE_TIMEOUT_SECONDS: String(queue.properties.JobStateTimeLimitActions[0].MaxTimeSeconds),
      NST_BATCH_GPU_MEMORY_MB: '24576', // g5 (A10G) and g6 (L4): 24 GiB
      // An ARN built from the state machine's name: a reference would make a cycle (it invokes the function).
      NST_TILES_STATE_MACHINE_ARN: {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':states:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':stateMachine:nst-tiles',
          ],
        ],
      },
      NST_MAX_JOB_GB_SECONDS: '200000',
      POWERTOOLS_SERVICE_NAME: 'serverless-style-transfer',
      POWERTOOLS_METRICS_NAMESPACE: 'ServerlessStyleTransfer',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
      ORT_DISABLE_TELEMETRY: '1',
    });
  });

  it('retries async events twice for up to 6 hours, then sends them as they are to the SQS dead-letter queue', () => {
    expect(only(template, 'AWS::Lambda::EventInvokeConfig').properties).toEqual({
      FunctionName: ref(fnId),
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21600,
    });
    // A dead-letter queue (the original event as the body), not an on-failure destination (a record).
    expect(fnProps.DeadLetterConfig).toEqual({ TargetArn: arn(dlq.id) });
    for (const q of [dlq, poison]) {
      expect(q.properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(q.id)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('is bundled as one ES module by esbuild, leaving the layer packages out', () => {
    const asset = path.join(synth.outdir, `asset.${String(fnProps.Code.S3Key).replace('.zip', '')}`);
    expect(listFiles(asset).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(path.join(asset, 'index.mjs'), 'utf8');
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    for (const external of ['sharp', 'onnxruntime-node']) {
      expect(RUNTIME_PACKAGES).toContain(external); // left out of the bundle: the runtime layer has them
      expect(code).toMatch(new RegExp(`from\\s*"${external}"|import\\("${external}"\\)`));
    }
    expect(code).not.toContain('libvips'); // sharp's own sources are not inlined
  });
});

describe('dead letters', () => {
  it('are consumed by the function, one message per invocation, at most 2 at a time', () => {
    expect(only(template, 'AWS::Lambda::EventSourceMapping').properties).toEqual({
      EventSourceArn: arn(dlq.id),
      FunctionName: ref(fnId),
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('that fail 5 receives move to a poison queue that nothing consumes; no loop', () => {
    expect(dlq.properties.RedrivePolicy).toEqual({ deadLetterTargetArn: arn(poison.id), maxReceiveCount: 5 });
    // Throttled receives are retried within the visibility timeout: six function timeouts, as AWS advises.
    expect(dlq.properties.VisibilityTimeout).toBe(6 * fnProps.Timeout);
    expect(poison.properties.RedrivePolicy).toBeUndefined();
    expect(JSON.stringify(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping'))).not.toContain(
      poison.id,
    );
    expect(JSON.stringify(fnProps.DeadLetterConfig)).not.toContain(poison.id);
  });

  it('lets the function receive and delete from its dead-letter queue and touch no other queue', () => {
    const sqsStatements = fnStatements.filter((s) => asList(s.Action).some((a) => a.startsWith('sqs:')));
    expect(sqsStatements.map((s) => s.Resource)).toEqual(sqsStatements.map(() => arn(dlq.id)));
    expect(new Set(sqsStatements.flatMap((s) => asList(s.Action)))).toEqual(
      new Set([
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage', // Lambda sends the function's failed events with the function's role
      ]),
    );
    expect(JSON.stringify(allStatements(template))).not.toContain(poison.id);
  });
});

describe('sweep schedule', () => {
  it('invokes the function every 5 minutes with { nstSweep: { bucket } }', () => {
    expect(sweepRule.properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(sweepRule.properties.Targets).toHaveLength(1);
    const [target] = sweepRule.properties.Targets;
    expect(target).toMatchObject({
      Arn: arn(fnId),
      RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 2 },
    });
    expect(JSON.parse(render(target.Input))).toEqual({ nstSweep: { bucket: `<ref:${bucketId}>` } });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: arn(fnId),
      SourceArn: arn(sweepRule.id),
    });
  });
});

describe('IAM', () => {
  it('lets the function read inputs/, styles/, jobs/ and assets/ and write, tag and delete under outputs/ only', () => {
    expect(statementFor(fnStatements, 's3:GetObjectVersion')).toEqual([
      expect.objectContaining({
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: ['assets/', 'inputs/', 'jobs/', 'styles/'].map((p) => objectsUnder(bucketId, p)),
      }),
    ]);
    expect(statementFor(fnStatements, 's3:PutObject')).toEqual([
      expect.objectContaining({
        Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject', 's3:PutObjectTagging'],
        Resource: objectsUnder(bucketId, 'outputs/'),
      }),
      // A Step Functions task's direct invoke: its spec is written under jobs/.
      expect.objectContaining({
        Sid: 'SubmitWaitedJobs',
        Action: 's3:PutObject',
        Resource: objectsUnder(bucketId, 'jobs/'),
      }),
    ]);
    expect(statementFor(fnStatements, 's3:ListBucket')).toEqual([
      expect.objectContaining({ Resource: arn(bucketId) }),
    ]);
    const s3Actions = fnStatements.flatMap((s) => asList(s.Action)).filter((a) => a.startsWith('s3:'));
    expect(new Set(s3Actions)).toEqual(
      new Set([
        's3:GetObject',
        's3:GetObjectVersion',
        's3:PutObject',
        's3:PutObjectTagging',
        's3:DeleteObject',
        's3:ListBucket',
      ]),
    );
  });

  it('lets the function publish, put events on the default bus, submit GPU jobs, and invoke itself by name (no reference cycle)', () => {
    expect(statementFor(fnStatements, 'sns:Publish')).toEqual([
      expect.objectContaining({ Resource: ref(topic.id) }),
    ]);
    const putEvents = statementFor(fnStatements, 'events:PutEvents');
    expect(putEvents).toHaveLength(1);
    expect(JSON.stringify(putEvents[0].Resource)).toContain(':event-bus/default"');
    expect(putEvents[0].Condition).toEqual({
      StringEquals: { 'events:source': 'serverless-style-transfer' },
    });
    const submit = statementFor(fnStatements, 'batch:SubmitJob');
    expect(submit).toHaveLength(1);
    expect(asList(submit[0].Resource)).toContainEqual(queueArn);
    expect(JSON.stringify(submit[0].Resource)).toContain(':job-definition/nst-stylize-gpu:*');
    const invoke = statementFor(fnStatements, 'lambda:InvokeFunction');
    expect(invoke).toHaveLength(1);
    const resources = JSON.stringify(invoke[0].Resource);
    expect(resources).toContain(':function:nst-stylize"');
    expect(resources).toContain(':function:nst-stylize:*"');
    expect(resources).not.toContain(fnId); // an ARN built from the name, not a reference to the function
  });

  it('lets the function and the GPU worker answer the Step Functions task a job carries the token of', () => {
    const jobRoleId = (jobDefinition.properties as Cfn).ContainerProperties.JobRoleArn['Fn::GetAtt'][0];
    for (const statements of [fnStatements, roleStatements(template, jobRoleId)]) {
      expect(statements.filter((s) => asList(s.Action).some((a) => a.startsWith('states:Send')))).toEqual([
        expect.objectContaining({
          Action: ['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess'],
          Resource: '*',
        }),
      ]);
    }
  });

  it('has no wildcard actions and no "*" resources except where AWS allows nothing else', () => {
    const statements = allStatements(template);
    expect(statements.length).toBeGreaterThan(10);
    for (const s of statements.filter((st) => st.Effect === 'Allow')) {
      for (const action of asList(s.Action)) expect(action, JSON.stringify(s)).not.toContain('*');
      if (asList(s.Resource).includes('*')) {
        // ECR's token API, the ECS agent's managed role, Step Functions' log delivery, its task-token
        // answers and X-Ray take no resource.
        const noResource =
          /^(ecr:GetAuthorizationToken|logs:[A-Za-z]*(LogDelivery|LogDeliveries|ResourcePolicies|ResourcePolicy|LogGroups)|states:SendTask(Success|Failure|Heartbeat)|xray:[A-Za-z]+)$/;
        for (const action of asList(s.Action)) expect(action, JSON.stringify(s)).toMatch(noResource);
      }
    }
  });
});

describe('Batch GPU path', () => {
  it('scales a g5/g6 EC2 compute environment on the NVIDIA ECS AMI from zero, with IMDSv2', () => {
    const ce = only(template, 'AWS::Batch::ComputeEnvironment').properties as Record<string, Cfn>;
    expect(ce.Type).toBe('managed');
    expect(ce.ComputeResources).toMatchObject({
      Type: 'EC2',
      MinvCpus: 0,
      MaxvCpus: 16,
      InstanceTypes: ['g5', 'g6'],
      AllocationStrategy: 'BEST_FIT_PROGRESSIVE',
      Ec2Configuration: [{ ImageType: 'ECS_AL2023_NVIDIA' }],
    });
    const launchTemplateId = ce.ComputeResources.LaunchTemplate.LaunchTemplateId.Ref;
    expect(resourcesOfType(template, 'AWS::EC2::LaunchTemplate')[launchTemplateId].Properties).toMatchObject({
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.hasResourceProperties('AWS::EC2::FlowLog', { LogDestinationType: 's3' });
    template.hasResourceProperties('AWS::Batch::JobQueue', {
      JobQueueName: 'nst-gpu',
      ComputeEnvironmentOrder: [Match.objectLike({ Order: 1 })],
    });
  });

  it('defines the job: one GPU, the functions/batch image, retries of transient failures, a timeout', () => {
    const props = jobDefinition.properties as Record<string, Cfn>;
    expect(props).toMatchObject({
      Type: 'container',
      JobDefinitionName: 'nst-stylize-gpu',
      Timeout: { AttemptDurationSeconds: 4 * 3600 },
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'RETRY', OnReason: 'CannotPullContainerError:*' },
          { Action: 'RETRY', OnExitCode: '1' },
          { Action: 'EXIT', OnExitCode: '*' },
        ],
      },
    });
    expect(props.ContainerProperties.ResourceRequirements).toEqual(
      expect.arrayContaining([
        { Type: 'GPU', Value: '1' },
        { Type: 'VCPU', Value: '4' },
        { Type: 'MEMORY', Value: '14336' },
      ]),
    );
    const assets = JSON.parse(
      readFileSync(path.join(synth.outdir, `${stack.artifactId}.assets.json`), 'utf8'),
    );
    const images = Object.values(assets.dockerImages) as {
      source: { directory: string; dockerFile?: string };
    }[];
    expect(images).toHaveLength(1);
    expect(images[0].source.dockerFile).toBe('functions/batch/Dockerfile');
    expect(JSON.stringify(props.ContainerProperties.Image)).toContain('container-assets');
  });

  it('stages only what the image needs as its build context', () => {
    const assets = JSON.parse(
      readFileSync(path.join(synth.outdir, `${stack.artifactId}.assets.json`), 'utf8'),
    );
    const image = Object.values(assets.dockerImages)[0] as { source: { directory: string } };
    const files = listFiles(path.join(synth.outdir, image.source.directory));
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'package-lock.json',
        '.npmrc',
        'bin/nst.js',
        'functions/batch/Dockerfile',
        'dist/functions/batch/main.js',
      ]),
    );
    expect(files.some((f) => f.startsWith('dist/src/engine/'))).toBe(true);
    const unwanted = files.filter(
      (f) =>
        !/^(dist\/src|bin|dist\/functions\/batch)\/|^functions\/batch\/Dockerfile$|^(package(-lock)?\.json|\.npmrc)$/.test(
          f,
        ),
    );
    expect(unwanted).toEqual([]);
  });

  it('cancels jobs RUNNABLE for an hour without capacity or a fitting instance', () => {
    expect(queue.properties.JobStateTimeLimitActions).toEqual(
      ['CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY', 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT'].map(
        (reason) => ({ Action: 'CANCEL', State: 'RUNNABLE', MaxTimeSeconds: 3600, Reason: reason }),
      ),
    );
  });

  it('sends FAILED jobs of its queue back to the function, with the DLQ for undeliverable events', () => {
    const rule = batchRule.properties;
    expect(rule.EventPattern).toEqual({
      source: ['aws.batch'],
      'detail-type': ['Batch Job State Change'],
      detail: { status: ['FAILED'], jobQueue: [queueArn] },
    });
    expect(rule.Targets).toEqual([
      expect.objectContaining({ Arn: arn(fnId), DeadLetterConfig: { Arn: arn(dlq.id) } }),
    ]);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'events.amazonaws.com',
      FunctionName: arn(fnId),
    });
    const ruleId = batchRule.id;
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': arn(ruleId) } },
          }),
        ]),
      },
    });
  });

  it('gives the job role the pipeline S3, SNS, EventBridge and task-token permissions and nothing else', () => {
    const jobRoleId = (jobDefinition.properties as Cfn).ContainerProperties.JobRoleArn['Fn::GetAtt'][0];
    const jobStatements = roleStatements(template, jobRoleId);
    // The worker reads what the function reads.
    expect(statementFor(jobStatements, 's3:GetObjectVersion')).toEqual(
      statementFor(fnStatements, 's3:GetObjectVersion'),
    );
    const actions = new Set(jobStatements.flatMap((s) => asList(s.Action)));
    expect(actions).toEqual(
      new Set([
        's3:GetObject',
        's3:GetObjectVersion',
        's3:PutObject',
        's3:PutObjectTagging',
        's3:DeleteObject',
        's3:ListBucket',
        'sns:Publish',
        'events:PutEvents',
        'states:SendTaskFailure',
        'states:SendTaskHeartbeat',
        'states:SendTaskSuccess',
      ]),
    );
  });
});

describe('notifications and operations', () => {
  it("has a TLS-only topic that this account's alarms may publish to, without subscriptions by default", () => {
    const policy = only(template, 'AWS::SNS::TopicPolicy').properties as Cfn;
    expect(policy.Topics).toEqual([ref(topic.id)]);
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: ref(topic.id),
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'AllowThisAccountsAlarms',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: ref(topic.id),
        Condition: {
          StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') },
          ArnLike: { 'aws:SourceArn': expect.anything() },
        },
      },
    ]);
    const sourceArn = policy.PolicyDocument.Statement[1].Condition.ArnLike['aws:SourceArn'];
    expect(render(sourceArn)).toBe('arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*');
    expect(JSON.stringify(sourceArn)).toContain('"AWS::Partition"'); // not a literal "aws"
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('every alarm action reaches a topic that lets cloudwatch.amazonaws.com publish', () => {
    expect(Object.keys(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))).toHaveLength(4);
    expect(unreachableAlarms(template)).toEqual([]);
  });

  it('alarms to the topic on dead letters, on poison letters, on function errors and on failed tiles executions', () => {
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties,
    );
    expect(alarms).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Namespace: 'AWS/SQS',
          MetricName: 'NumberOfMessagesSent',
          Statistic: 'Sum',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq.id, 'QueueName'] } }],
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [ref(topic.id)],
        }),
        expect.objectContaining({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [poison.id, 'QueueName'] } }],
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [ref(topic.id)],
        }),
        expect.objectContaining({
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: ref(fnId) }],
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [ref(topic.id)],
        }),
        expect.objectContaining({
          Namespace: 'AWS/States',
          MetricName: 'ExecutionsFailed',
          ComparisonOperator: 'GreaterThanThreshold',
          Threshold: 0,
          AlarmActions: [ref(topic.id)],
        }),
      ]),
    );
    expect(alarms).toHaveLength(4);
  });

  it('outputs the bucket, topic ARN, event bus, dead-letter and poison queue URLs, function, job queue and state machine', () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs).toEqual({
      BucketName: expect.objectContaining({ Value: ref(bucketId) }),
      NotificationTopicArn: { Value: ref(topic.id) },
      EventBusName: expect.objectContaining({ Value: 'default' }),
      DeadLetterQueueUrl: { Value: ref(dlq.id) },
      PoisonQueueUrl: { Value: ref(poison.id) },
      FunctionName: { Value: ref(fnId) },
      JobQueueArn: { Value: queueArn },
      TilesStateMachineArn: { Value: ref(only(template, 'AWS::StepFunctions::StateMachine').id) },
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('leaves no finding unacknowledged', () => {
    expect(nagFindings(stack)).toEqual([]);
  });

  it('gives every acknowledgement a specific reason', () => {
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:acknowledged-rules'))
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([id, reason]) => [id.replace(/^annotation::/i, ''), reason])
      .filter(([id]) => id.startsWith('AwsSolutions-'));
    expect(acknowledged.length).toBeGreaterThan(5);
    for (const [id, reason] of acknowledged) {
      expect(reason.length, id).toBeGreaterThan(40);
    }
    console.log(`cdk-nag acknowledgements:\n${acknowledged.map(([id, r]) => `  ${id}: ${r}`).join('\n')}`);
  });
});

it('writes nothing but the cloud assembly (no Docker build at synth)', () => {
  expect(existsSync(path.join(synth.outdir, 'manifest.json'))).toBe(true);
});
