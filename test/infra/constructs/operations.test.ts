/**
 * The topic and the alarms on their own, and the alarm-reachability walk shown able to fail: SNS's
 * enforceSSL policy alone (the state before the topic allowed CloudWatch) is caught.
 */

import type { Stack } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { Alarms, NotificationTopic } from '../../../infra/constructs/operations.js';
import { LAMBDA_NODE_RUNTIME } from '../../../infra/node-runtime.js';
import { bareStack, resourcesOfType, unreachableAlarms } from '../helpers.js';

const metric = new cloudwatch.Metric({
  namespace: 'Test',
  metricName: 'Things',
  period: Duration.minutes(5),
});

function alarmOn(stack: Stack, topic: sns.ITopic | undefined, id = 'Alarm'): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(stack, id, { metric, threshold: 0, evaluationPeriods: 1 });
  if (topic) alarm.addAlarmAction(new SnsAction(topic));
  return alarm;
}

describe('NotificationTopic and Alarms', () => {
  const { stack, dispose } = bareStack();
  const { topic } = new NotificationTopic(stack, 'Notifications');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: LAMBDA_NODE_RUNTIME,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  new Alarms(stack, 'Alarms', {
    topic,
    function: fn,
    deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
    poisonQueue: new sqs.Queue(stack, 'Poison'),
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('alarm on dead letters sent, poison letters waiting and function errors, each reaching the topic', () => {
    const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties,
    );
    expect(alarms.map((a) => a?.MetricName)).toEqual([
      'NumberOfMessagesSent',
      'ApproximateNumberOfMessagesVisible',
      'Errors',
    ]);
    expect(unreachableAlarms(template)).toEqual([]);
  });
});

describe('the alarm-reachability walk', () => {
  const { stack, dispose } = bareStack();
  afterAll(dispose);
  // The topic as it was: enforceSSL's Deny is its whole policy, which replaces SNS's default one.
  const denyOnly = new sns.Topic(stack, 'DenyOnly', { enforceSSL: true });
  alarmOn(stack, denyOnly, 'ToDenyOnly');
  // No policy of its own: SNS's default policy lets this account's alarms publish.
  alarmOn(stack, new sns.Topic(stack, 'Default'), 'ToDefault');
  // Another account's alarms only.
  const elsewhere = new sns.Topic(stack, 'Elsewhere');
  elsewhere.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [elsewhere.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': '999999999999' } },
    }),
  );
  alarmOn(stack, elsewhere, 'ToElsewhere');
  alarmOn(stack, undefined, 'Silent');
  const problems = unreachableAlarms(Template.fromStack(stack));

  it('reports the Deny-only topic, the other account and the alarm without actions, and nothing else', () => {
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^ToDenyOnly.*DenyOnly.* does not allow cloudwatch\.amazonaws\.com sns:Publish$/,
        ),
        expect.stringMatching(/^ToElsewhere.*does not allow/),
        expect.stringMatching(/^Silent.*: no actions$/),
      ]),
    );
  });
});
