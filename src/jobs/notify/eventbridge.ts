/** The EventBridge channel: each of a job's events put on one bus (job-events.ts says what they are). */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { NstError } from '../../errors.js';
import { jobEvent } from './job-events.js';
import type { JobNotification } from './job-notification.js';
import type { Notifier } from './notifier.js';

/**
 * PutEvents' errors that no retry fixes: the bus does not exist, or the worker may not put events on it (a
 * misnamed `eventBus`). Retrying them would keep every job from starting or ending, so they are reported
 * and the job goes on.
 */
const REFUSALS = new Set(['ResourceNotFoundException', 'AccessDeniedException']);

/**
 * Puts each event on one bus (a name or an ARN). A failure is NOTIFICATION_FAILED, transient: the job's
 * event is retried. A refusal (REFUSALS) goes to `onRefused` instead.
 */
export class EventBridgeNotifier implements Notifier {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBus: string,
    private readonly onRefused: (error: NstError) => void,
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
    let answer: PutEventsCommandOutput;
    try {
      answer = await this.client.send(new PutEventsCommand({ Entries: [entry] }));
    } catch (cause) {
      const error = failed((cause as Error).message, cause);
      if (!REFUSALS.has((cause as Error).name)) throw error;
      this.onRefused(error);
      return;
    }
    // PutEvents answers 200 with the entries it could not put counted, not with an error.
    if (answer.FailedEntryCount) {
      const [result] = answer.Entries ?? [];
      throw failed(`${result?.ErrorCode ?? 'failed'}: ${result?.ErrorMessage ?? 'no reason given'}`);
    }
  }
}
