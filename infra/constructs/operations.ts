/**
 * Notifications and alarms: the SNS topic the pipeline publishes job results to (optionally with an
 * e-mail subscription), and CloudWatch alarms that publish to the same topic when jobs land in the
 * dead-letter queue or the function fails.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

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
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
  }
}

export interface AlarmsProps {
  /** Where the alarms publish. */
  readonly topic: sns.ITopic;
  /** The function whose errors raise an alarm. */
  readonly function: lambda.IFunction;
  /** The queue whose dead letters raise an alarm. */
  readonly deadLetterQueue: sqs.IQueue;
}

export class Alarms extends Construct {
  readonly deadLetters: cloudwatch.Alarm;
  readonly functionErrors: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    this.deadLetters = new cloudwatch.Alarm(this, 'DeadLetters', {
      alarmDescription: 'A job event failed every retry and is waiting in the dead-letter queue.',
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period,
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.functionErrors = new cloudwatch.Alarm(this, 'FunctionErrors', {
      alarmDescription: 'The stylize function threw (it will be retried; see its logs).',
      metric: props.function.metricErrors({ period, statistic: 'Sum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.deadLetters, this.functionErrors])
      alarm.addAlarmAction(new SnsAction(props.topic));
  }
}
