/**
 * The SNS channel: one message per finished job (SNS carries no `started`), with message attributes that
 * subscribers can filter on (status, jobId) and the job's notification as its JSON body.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { NstError } from '../../errors.js';
import type { JobNotification } from './job-notification.js';
import type { Notifier } from './notifier.js';

export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async started(): Promise<void> {}

  async finished(n: JobNotification): Promise<void> {
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Subject: `Style transfer job ${n.status}`,
          Message: JSON.stringify(n),
          MessageAttributes: {
            status: { DataType: 'String', StringValue: n.status },
            jobId: { DataType: 'String', StringValue: n.jobId },
          },
        }),
      );
    } catch (cause) {
      throw new NstError(
        'NOTIFICATION_FAILED',
        `cannot publish to ${this.topicArn}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
}
