/** The EventBridge channel: each of a job's events put on one bus (job-events.ts says what they are). */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { NstError } from '../../errors.js';
import { jobEvent } from './job-events.js';
import type { JobNotification } from './job-notification.js';
import type { Notifier } from './notifier.js';

/** Puts each event on one bus (a name or an ARN). A failure is NOTIFICATION_FAILED: transient, retried. */
export class EventBridgeNotifier implements Notifier {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBus: string,
  ) {}

  started(n: JobNotification): Promise<void> {
    return this.put(n);
  }

  finished(n: JobNotification): Promise<void> {
    return this.put(n);
  }

  private async put(n: JobNotification): Promise<void> {
    const { source, detailType, resources, detail } = jobEvent(n);
    const entry = {
      EventBusName: this.eventBus,
      Source: source,
      DetailType: detailType,
      Resources: [...resources],
      Detail: JSON.stringify(detail),
    };
    const failed = (why: string, cause?: unknown) =>
      new NstError('NOTIFICATION_FAILED', `cannot put ${detailType} on event bus ${this.eventBus}: ${why}`, {
        cause,
      });
    const answer = await this.client.send(new PutEventsCommand({ Entries: [entry] })).catch((cause) => {
      throw failed((cause as Error).message, cause);
    });
    // PutEvents answers 200 with the entries it could not put counted, not with an error.
    if (answer.FailedEntryCount) {
      const [result] = answer.Entries ?? [];
      throw failed(`${result?.ErrorCode ?? 'failed'}: ${result?.ErrorMessage ?? 'no reason given'}`);
    }
  }
}
