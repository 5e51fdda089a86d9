import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONSUMER_MAX_CONCURRENCY,
  consumeDeadLetters,
  createDeadLetterQueues,
} from '../../../infra/constructs/dead-letters.js';
import { LAMBDA_NODE_RUNTIME } from '../../../infra/node-runtime.js';
import { DEAD_LETTER_RECEIVE_COUNT } from '../../../src/jobs/deployment.js';
import { asList, bareStack, only, roleStatements } from '../helpers.js';

describe('dead-letter queues and their consumer', () => {
  const { stack, dispose } = bareStack();
  const timeout = Duration.seconds(300);
  const queues = createDeadLetterQueues(stack, timeout);
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: LAMBDA_NODE_RUNTIME,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
    timeout,
  });
  consumeDeadLetters(fn, queues.queue);
  const template = Template.fromStack(stack);
  afterAll(dispose);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  const arn = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

  it('keep the dead-letter queue id, redrive to the poison queue after 5 receives, six timeouts visible', () => {
    expect(queues.queue.node.id).toBe('DeadLetterQueue');
    const dlq = template.toJSON().Resources[id(queues.queue)].Properties;
    expect(dlq).toMatchObject({
      VisibilityTimeout: 6 * 300,
      RedrivePolicy: {
        deadLetterTargetArn: arn(id(queues.poisonQueue)),
        maxReceiveCount: DEAD_LETTER_RECEIVE_COUNT,
      },
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86400,
    });
    expect(DEAD_LETTER_RECEIVE_COUNT).toBeGreaterThanOrEqual(5);
    expect(template.toJSON().Resources[id(queues.poisonQueue)].Properties.RedrivePolicy).toBeUndefined();
  });

  it('are consumed one message at a time, with at most 2 concurrent invocations, from the DLQ only', () => {
    expect(only(template, 'AWS::Lambda::EventSourceMapping').properties).toEqual({
      EventSourceArn: arn(id(queues.queue)),
      FunctionName: { Ref: id(fn) },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: CONSUMER_MAX_CONCURRENCY },
    });
    const roleId = stack.getLogicalId(fn.role?.node.defaultChild as never);
    const statements = roleStatements(template, roleId);
    expect(statements.map((s) => s.Resource)).toEqual([arn(id(queues.queue))]);
    expect(asList(statements[0].Action)).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']),
    );
    expect(asList(statements[0].Action)).not.toContain('sqs:SendMessage');
  });
});
