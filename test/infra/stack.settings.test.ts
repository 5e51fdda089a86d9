/**
 * The context settings change the stack as documented: one synth with Batch off and every Lambda setting
 * changed, one with Spot in a given VPC. cdk-nag stays clean in both.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  allStatements,
  asList,
  type Cfn,
  nagFindings,
  only,
  resourcesOfType,
  type Synthesised,
  synthesise,
  unreachableAlarms,
} from './helpers.js';

const stylizeFunction = (template: Synthesised['template'], name: string) =>
  Object.values(resourcesOfType(template, 'AWS::Lambda::Function')).find(
    (f) => f.Properties?.FunctionName === name,
  )?.Properties as Cfn;

describe('Batch off, Lambda settings changed', () => {
  const synth = synthesise({
    namePrefix: 'art',
    batch: 'false',
    notificationEmail: 'ops@example.com',
    eventBus: 'art-pipelines',
    reservedConcurrency: '3',
    architecture: 'arm64',
    memory: '3008',
    timeout: '600',
    logRetentionDays: '90',
    temporaryExpiryDays: '3',
  });
  const { template } = synth;
  afterAll(synth.dispose);

  it('has no Batch, VPC or Batch EventBridge resources, and no Batch settings on the function', () => {
    for (const type of [
      'AWS::Batch::ComputeEnvironment',
      'AWS::Batch::JobQueue',
      'AWS::Batch::JobDefinition',
      'AWS::EC2::VPC',
    ]) {
      template.resourceCountIs(type, 0);
    }
    // The sweep schedule and the tiles' ended executions: no rule for Batch job state changes.
    expect(
      Object.values(resourcesOfType(template, 'AWS::Events::Rule')).map(
        (r) => r.Properties?.ScheduleExpression ?? r.Properties?.EventPattern?.source?.[0],
      ),
    ).toEqual(expect.arrayContaining(['rate(5 minutes)', 'aws.states']));
    template.resourceCountIs('AWS::Events::Rule', 2);
    const variables = stylizeFunction(template, 'art-stylize').Environment.Variables;
    expect(variables).toMatchObject({
      NST_TOPIC_ARN: expect.anything(),
      NST_EVENT_BUS: 'art-pipelines',
      NST_MEMORY_MB: '3008',
    });
    const putEvents = allStatements(template).filter((s) => asList(s.Action).includes('events:PutEvents'));
    expect(putEvents).toHaveLength(1);
    expect(JSON.stringify(putEvents[0].Resource)).toContain(':event-bus/art-pipelines"');
    for (const name of [
      'NST_BATCH_JOB_QUEUE',
      'NST_BATCH_JOB_DEFINITION',
      'NST_BATCH_TIMEOUT_SECONDS',
      'NST_BATCH_RUNNABLE_TIMEOUT_SECONDS',
      'NST_BATCH_GPU_MEMORY_MB',
    ]) {
      expect(Object.keys(variables)).not.toContain(name);
    }
    expect(allStatements(template).flatMap((s) => asList(s.Action))).not.toContain('batch:SubmitJob');
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('JobQueueArn');
  });

  it('applies name prefix, memory, timeout, architecture, concurrency and retention', () => {
    const fn = resourcesOfType(template, 'AWS::Lambda::Function');
    const props = Object.values(fn).find((f) => f.Properties?.FunctionName === 'art-stylize')?.Properties;
    expect(props).toMatchObject({
      MemorySize: 3008,
      Timeout: 600,
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 3,
    });
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      Description: 'onnxruntime-node and sharp for linux arm64',
      CompatibleArchitectures: ['arm64'],
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    const rules = Object.values(resourcesOfType(template, 'AWS::S3::Bucket')).flatMap(
      (b) => (b.Properties?.LifecycleConfiguration as Cfn)?.Rules ?? [],
    );
    expect(rules).toContainEqual(expect.objectContaining({ Id: 'expire-temporary', ExpirationInDays: 3 }));
  });

  it('subscribes the notification e-mail', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('still consumes the dead-letter queue, and every alarm reaches the topic', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    expect(unreachableAlarms(template)).toEqual([]);
  });

  it('passes cdk-nag', () => {
    expect(nagFindings(synth.stack)).toEqual([]);
  });
});

/** What `cdk synth` would record in cdk.context.json after looking the VPC up. */
const vpcLookup = {
  'vpc-provider:account=123456789012:filter.vpc-id=vpc-0abc1234:region=eu-west-1:returnAsymmetricSubnets=true':
    {
      vpcId: 'vpc-0abc1234',
      vpcCidrBlock: '10.1.0.0/16',
      availabilityZones: [],
      subnetGroups: [
        {
          name: 'Private',
          type: 'Private',
          subnets: [
            {
              subnetId: 'subnet-0aaa1111',
              cidr: '10.1.0.0/20',
              availabilityZone: 'eu-west-1a',
              routeTableId: 'rtb-0aaa1111',
            },
            {
              subnetId: 'subnet-0bbb2222',
              cidr: '10.1.16.0/20',
              availabilityZone: 'eu-west-1b',
              routeTableId: 'rtb-0bbb2222',
            },
          ],
        },
        {
          name: 'Public',
          type: 'Public',
          subnets: [
            {
              subnetId: 'subnet-0ccc3333',
              cidr: '10.1.32.0/20',
              availabilityZone: 'eu-west-1a',
              routeTableId: 'rtb-0ccc3333',
            },
          ],
        },
      ],
    },
};

describe('Spot GPU instances in a given VPC', () => {
  const synth = synthesise(
    {
      spot: 'true',
      vpcId: 'vpc-0abc1234',
      instanceTypes: 'g6.2xlarge,g5',
      maxvCpus: '32',
      batchTimeoutMinutes: '60',
      batchRunnableTimeoutSeconds: '900',
      reservedConcurrency: 'false',
    },
    { env: { account: '123456789012', region: 'eu-west-1' }, lookups: vpcLookup },
  );
  const { template } = synth;
  afterAll(synth.dispose);

  it('uses Spot with the price-capacity-optimised strategy and the given instance types', () => {
    const ce = only(template, 'AWS::Batch::ComputeEnvironment').properties as Cfn;
    expect(ce.ComputeResources).toMatchObject({
      Type: 'SPOT',
      AllocationStrategy: 'SPOT_PRICE_CAPACITY_OPTIMIZED',
      InstanceTypes: ['g6.2xlarge', 'g5'],
      MinvCpus: 0,
      MaxvCpus: 32,
    });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      Timeout: { AttemptDurationSeconds: 3600 },
    });
  });

  it('cancels jobs RUNNABLE for 15 minutes and tells the function that limit, the job timeout and GPU memory', () => {
    const actions = (only(template, 'AWS::Batch::JobQueue').properties as Cfn).JobStateTimeLimitActions;
    expect(actions.map((a: Cfn) => [a.MaxTimeSeconds, a.Reason])).toEqual([
      [900, 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY'],
      [900, 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT'],
    ]);
    expect(stylizeFunction(template, 'nst-stylize').Environment.Variables).toMatchObject({
      NST_BATCH_TIMEOUT_SECONDS: '3600',
      NST_BATCH_RUNNABLE_TIMEOUT_SECONDS: '900',
      NST_BATCH_GPU_MEMORY_MB: '24576',
    });
  });

  it('reserves no concurrency with reservedConcurrency=false', () => {
    expect(stylizeFunction(template, 'nst-stylize').ReservedConcurrentExecutions).toBeUndefined();
  });

  it('lets alarms publish with a literal account and region too', () => {
    expect(unreachableAlarms(template, { account: '123456789012', region: 'eu-west-1' })).toEqual([]);
    expect(unreachableAlarms(template, { account: '210987654321', region: 'eu-west-1' })).not.toEqual([]);
  });

  it('runs in the private subnets of that VPC and creates none of its own', () => {
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
    const ce = only(template, 'AWS::Batch::ComputeEnvironment').properties as Cfn;
    expect(ce.ComputeResources.Subnets).toEqual(['subnet-0aaa1111', 'subnet-0bbb2222']);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0abc1234' });
  });

  it('passes cdk-nag', () => {
    expect(nagFindings(synth.stack)).toEqual([]);
  });
});
