/**
 * Notifications and alarms: the SNS topic the pipeline publishes job results to (optionally with an
 * e-mail subscription), and CloudWatch alarms that publish to the same topic when job events land in the
 * dead-letter queue, when a dead letter could not be processed (the poison queue), or when the function
 * fails.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEAD_LETTER_RECEIVE_COUNT } from '../../src/jobs/deployment.js';

export interface NotificationTopicProps {
  /**
   * An address subscribed to the topic (AWS asks it to confirm).
   * @default - no subscription
   */
  readonly email?: string;
}

export class NotificationTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationTopicProps = {}) {
    super(scope, id);
    // TLS-only, without a KMS key: messages hold job ids, keys and statuses, never image data; the
    // AWS-managed SNS key would stop CloudWatch alarms from publishing here, and a customer key would add
    // a fixed monthly cost to a stack that otherwise costs nothing while idle.
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Style transfer jobs', enforceSSL: true });
    this.allowAlarms();
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }

  /**
   * enforceSSL gives the topic a policy of its own, which replaces SNS's default policy: without this
   * statement CloudWatch could not publish the alarms. Only this account's alarms in this region may;
   * the pipeline's roles publish through their own IAM policies.
   */
  private allowAlarms(): void {
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisAccountsAlarms',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
  }
}

export interface AlarmsProps {
  /** Where the alarms publish. */
  readonly topic: sns.ITopic;
  /** The function whose errors raise an alarm. */
  readonly function: lambda.IFunction;
  /** The queue whose dead letters raise an alarm. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The queue of dead letters that could not be processed. */
  readonly poisonQueue: sqs.IQueue;
  /** The tiles' state machine, whose failed executions raise an alarm. */
  readonly tilesStateMachine?: sfn.IStateMachine;
}

export class Alarms extends Construct {
  readonly deadLetters: cloudwatch.Alarm;
  readonly poisonLetters: cloudwatch.Alarm;
  readonly functionErrors: cloudwatch.Alarm;
  readonly failedTiles?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    // Messages sent, not messages visible: the function consumes the queue within seconds.
    this.deadLetters = this.anyAbove0(
      'DeadLetters',
      'A job event failed every retry and went to the dead-letter queue; the function marks its job ' +
        'failed (JOB_ABANDONED). Often an out-of-memory or timeout kill: see the function logs.',
      props.deadLetterQueue.metricNumberOfMessagesSent({ period, statistic: 'Sum' }),
    );
    // An SQS redrive does not count as sent: messages visible is the measure here (nothing consumes them).
    this.poisonLetters = this.anyAbove0(
      'PoisonLetters',
      `The function could not process a dead letter (${DEAD_LETTER_RECEIVE_COUNT} receives); its job may be ` +
        'left unfinished. Inspect the poison queue, fix the cause, redrive the message to the dead-letter queue.',
      props.poisonQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
    );
    this.functionErrors = this.anyAbove0(
      'FunctionErrors',
      'The stylize function threw (it will be retried; see its logs).',
      props.function.metricErrors({ period, statistic: 'Sum' }),
    );
    const alarms = [this.deadLetters, this.poisonLetters, this.functionErrors];
    if (props.tilesStateMachine) {
      this.failedTiles = this.anyAbove0(
        'FailedTiles',
        "A tiled job's Step Functions execution failed, timed out or was stopped; its job failed " +
          '(see job.json and the execution history).',
        props.tilesStateMachine.metricFailed({ period, statistic: 'Sum' }),
      );
      alarms.push(this.failedTiles);
    }
    for (const alarm of alarms) alarm.addAlarmAction(new SnsAction(props.topic));
  }

  /** An alarm when one 5-minute period of `metric` is above zero. */
  private anyAbove0(id: string, alarmDescription: string, metric: cloudwatch.IMetric): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      alarmDescription,
      metric,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
