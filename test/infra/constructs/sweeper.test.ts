import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { SweepSchedule, sweepEvent } from '../../../infra/constructs/sweeper.js';
import { LAMBDA_NODE_RUNTIME } from '../../../infra/node-runtime.js';
import { bareStack, type Cfn, only, render } from '../helpers.js';

describe('SweepSchedule', () => {
  const { stack, dispose } = bareStack();
  const bucket = new s3.Bucket(stack, 'Bucket');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: LAMBDA_NODE_RUNTIME,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
  new SweepSchedule(stack, 'Sweep', { function: fn, bucket });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('invokes the function every 5 minutes with { nstSweep: { bucket } }, dropping stale sweeps', () => {
    const rule = only(template, 'AWS::Events::Rule').properties as Cfn;
    expect(rule.ScheduleExpression).toBe('rate(5 minutes)');
    const fnId = stack.getLogicalId(fn.node.defaultChild as never);
    const bucketId = stack.getLogicalId(bucket.node.defaultChild as never);
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 2 },
      }),
    ]);
    expect(rule.Targets[0].DeadLetterConfig).toBeUndefined();
    expect(JSON.parse(render(rule.Targets[0].Input))).toEqual(sweepEvent(`<ref:${bucketId}>`));
    expect(sweepEvent('b')).toEqual({ nstSweep: { bucket: 'b' } }); // the handler's contract
  });
});
