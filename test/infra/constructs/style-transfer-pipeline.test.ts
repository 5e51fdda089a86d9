/**
 * StyleTransferPipeline in a host app of its own: the app's bucket (imported by name), a key prefix and
 * its own event bus. Everything the pipeline touches follows the prefix: the bucket notification's filters,
 * the roles' S3 scope, the workers' NST_KEY_PREFIX and, on a bucket the construct makes, the lifecycle rules.
 */
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterAll, describe, expect, it } from 'vitest';
import { pipelineLifecycleRules } from '../../../infra/constructs/storage.js';
import { StyleTransferPipeline } from '../../../infra/constructs/style-transfer-pipeline.js';
import { PIPELINE_ENV } from '../../../src/jobs/config.js';
import { READ_PREFIXES, TRIGGER_PREFIXES } from '../../../src/jobs/spec/keys.js';
import {
  asList,
  bareStack,
  type Cfn,
  nagFindings,
  only,
  render,
  resourcesOfType,
  roleStatements,
} from '../helpers.js';

const BUCKET = 'media-library';
const PREFIX = 'art/';

describe("a host app's bucket, key prefix and event bus", () => {
  const { stack, layers, dispose } = bareStack();
  const bus = new events.EventBus(stack, 'ArtBus', { eventBusName: 'art-pipelines' });
  const topic = new sns.Topic(stack, 'Team', { enforceSSL: true });
  const pipeline = new StyleTransferPipeline(stack, 'Art', {
    layers,
    bucket: s3.Bucket.fromBucketName(stack, 'Media', BUCKET),
    prefix: PREFIX,
    eventBus: bus,
    topic,
    namePrefix: 'art',
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  const functionProps = () =>
    resourcesOfType(template, 'AWS::Lambda::Function')[id(pipeline.stylize.function)].Properties as Cfn;

  it('makes no bucket and no topic of its own, and tells on the ones it was given', () => {
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const env = functionProps().Environment.Variables;
    expect(env[PIPELINE_ENV.keyPrefix]).toBe(PREFIX);
    expect(env[PIPELINE_ENV.eventBus]).toEqual({ Ref: stack.getLogicalId(bus.node.defaultChild as never) });
    expect(env[PIPELINE_ENV.topicArn]).toEqual({ Ref: stack.getLogicalId(topic.node.defaultChild as never) });
    expect(functionProps().FunctionName).toBe('art-stylize');
  });

  it("is notified of uploads to the prefix's inputs/ and jobs/ only, leaving the bucket's other notifications", () => {
    const { properties } = only(template, 'Custom::S3BucketNotifications');
    expect(properties.BucketName).toBe(BUCKET);
    expect(properties.Managed).toBe(false);
    const filters = properties.NotificationConfiguration.LambdaFunctionConfigurations.map(
      (c: Cfn) => c.Filter.Key.FilterRules,
    );
    expect(filters).toEqual(TRIGGER_PREFIXES.map((p) => [{ Name: 'prefix', Value: `${PREFIX}${p}` }]));
  });

  it("reads, writes and lists only under the prefix, on the function's role and the GPU job's", () => {
    const roles = [pipeline.stylize.function.role!, pipeline.batch!.jobDefinition.container.jobRole!];
    for (const role of roles) {
      const statements = roleStatements(template, id(role));
      const s3Resources = (sid: string) =>
        asList(statements.find((s) => s.Sid === sid)?.Resource).map((r) => render(r as Cfn));
      expect(s3Resources('ReadRequests').sort()).toEqual(
        READ_PREFIXES.map((p) => `arn:aws:s3:::${BUCKET}/${PREFIX}${p}*`).sort(),
      );
      expect(s3Resources('WriteOutputs')).toEqual([`arn:aws:s3:::${BUCKET}/${PREFIX}outputs/*`]);
      expect(statements.find((s) => s.Sid === 'ListKeys')).toMatchObject({
        Condition: { StringLike: { 's3:prefix': `${PREFIX}*` } },
      });
      const putEvents = statements.find((s) => asList(s.Action).includes('events:PutEvents'));
      expect(putEvents?.Resource).toEqual({
        'Fn::GetAtt': [stack.getLogicalId(bus.node.defaultChild as never), 'Arn'],
      });
    }
    const definition = only(template, 'AWS::Batch::JobDefinition').properties;
    expect(definition.ContainerProperties.Environment).toContainEqual({
      Name: PIPELINE_ENV.keyPrefix,
      Value: PREFIX,
    });
  });

  it('sends the VPC flow logs to a log group of its own, having no bucket for them', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { LogDestinationType: 'cloud-watch-logs' });
  });

  it('passes cdk-nag', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('a new bucket under a key prefix, and a bad prefix', () => {
  it("scopes the new bucket's lifecycle rules to the prefix, as pipelineLifecycleRules gives them to a host's bucket", () => {
    const { stack, layers, dispose } = bareStack();
    try {
      new StyleTransferPipeline(stack, 'Art', { layers, prefix: PREFIX, gpu: false });
      const buckets = Object.values(resourcesOfType(Template.fromStack(stack), 'AWS::S3::Bucket'));
      const rules = buckets
        .map((b) => b.Properties?.LifecycleConfiguration?.Rules as Cfn[])
        .find((r) => r?.some((rule) => String(rule.Id).startsWith('expire-temporary-art-')));
      // Ids of their own: another pipeline's rules in the same bucket do not collide with these.
      expect(rules?.map((r) => [r.Id, r.Prefix])).toEqual([
        [expect.stringMatching(/^expire-temporary-art-[0-9a-f]{8}$/), PREFIX],
        [expect.stringMatching(/^expire-noncurrent-art-[0-9a-f]{8}$/), PREFIX],
      ]);
      const ids = (keyPrefix: string) => pipelineLifecycleRules({ keyPrefix }).map((r) => r.id);
      expect(ids('teams/art/')[0]).toMatch(/^expire-temporary-teams-art-[0-9a-f]{8}$/);
      // Prefixes that read alike still get ids of their own; a long one stays within S3's 255 characters.
      expect(new Set([...ids('a.b/'), ...ids('a-b/'), ...ids('a b/')]).size).toBe(6);
      expect(ids(`${'x'.repeat(250)}/`)[1]?.length).toBeLessThan(80);
      expect(pipelineLifecycleRules().map((r) => [r.id, r.prefix])).toEqual([
        ['expire-temporary', undefined],
        ['expire-noncurrent', undefined],
      ]);
    } finally {
      dispose();
    }
  });

  it.each(['art', '/art/', 'art//', 'a*/', './', 'art/../', 'a\nb/'])(
    'refuses the prefix %j at synth, saying what a good one is',
    (prefix) => {
      const { stack, layers, dispose } = bareStack();
      try {
        expect(() => new StyleTransferPipeline(stack, 'Art', { layers, prefix, gpu: false })).toThrow(
          expect.objectContaining({
            code: 'INVALID_OPTION',
            message: expect.stringContaining("folders ending in '/'"),
          }),
        );
      } finally {
        dispose();
      }
    },
  );
});
