/**
 * Where the stylize function's failed asynchronous events end, and how their jobs still reach a terminal
 * state (README, "Jobs whose worker died"):
 *
 *   async event (S3, continuation, Batch FAILED, sweep) --3 attempts fail--> dead-letter queue
 *     (Lambda's DeadLetterConfig: the body is the original event; attributes RequestID, ErrorCode,
 *      ErrorMessage. The BatchJobFailed rule's undeliverable events land here too, with EventBridge's
 *      attributes RULE_ARN, ERROR_CODE, ERROR_MESSAGE, ...)
 *   dead-letter queue --SQS event source, one message per invocation--> the same function, which marks the
 *     jobs the body names failed (JOB_ABANDONED) and notifies
 *   a message the consumer fails on DEAD_LETTER_RECEIVE_COUNT times --SQS redrive--> poison queue: no consumer,
 *     an alarm; an operator inspects it and redrives it by hand.
 *
 * No loop: the consumer is invoked synchronously by the event source mapping, so its own failures never go
 * back to the dead-letter queue (Lambda's DeadLetterConfig covers asynchronous invocations only); they
 * return to the queue after the visibility timeout until SQS moves the message to the poison queue, which
 * nothing reads.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DEAD_LETTER_RECEIVE_COUNT } from '../../src/jobs/deployment.js';

/**
 * The dead-letter queue's visibility timeout, in function timeouts: AWS advises six, so that throttled
 * batches are retried before the message becomes visible again.
 */
const VISIBILITY_TIMEOUTS = 6;

/**
 * The consumer's share of the function's concurrency (the event source mapping's ceiling; 2 is the least
 * SQS event sources allow): most of the reserved concurrency stays with the jobs.
 */
export const CONSUMER_MAX_CONCURRENCY = 2;

const queueDefaults = {
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
  retentionPeriod: Duration.days(14),
} as const;

export interface DeadLetterQueues {
  /** The function's dead-letter queue (and the BatchJobFailed rule's); the function consumes it. */
  readonly queue: sqs.Queue;
  /** Dead letters the consumer failed on; nothing reads it, an alarm watches it. */
  readonly poisonQueue: sqs.Queue;
}

/**
 * The two queues, children of `scope` under the ids `DeadLetterQueue` and `PoisonQueue` (the first keeps
 * the logical id it had before it had a consumer). `functionTimeout`: the consumer's timeout, which the
 * visibility timeout must exceed.
 */
export function createDeadLetterQueues(scope: Construct, functionTimeout: Duration): DeadLetterQueues {
  const poisonQueue = new sqs.Queue(scope, 'PoisonQueue', queueDefaults);
  Validations.of(poisonQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'The poison queue is the end of the line: dead letters the consumer failed on wait here, under an ' +
      'alarm, for an operator; a further queue would only move them again.',
  });
  const queue = new sqs.Queue(scope, 'DeadLetterQueue', {
    ...queueDefaults,
    visibilityTimeout: Duration.seconds(functionTimeout.toSeconds() * VISIBILITY_TIMEOUTS),
    deadLetterQueue: { queue: poisonQueue, maxReceiveCount: DEAD_LETTER_RECEIVE_COUNT },
  });
  return { queue, poisonQueue };
}

/**
 * The function consumes its own dead-letter queue, one message per invocation, so a message it fails on
 * fails alone (no partial-batch response is needed). The mapping grants the role receive, delete and
 * visibility changes on this queue only.
 */
export function consumeDeadLetters(fn: lambda.Function, queue: sqs.IQueue): void {
  fn.addEventSource(new SqsEventSource(queue, { batchSize: 1, maxConcurrency: CONSUMER_MAX_CONCURRENCY }));
}
