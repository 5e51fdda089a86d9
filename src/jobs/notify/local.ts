/**
 * Local mode's channels (`nst serve`): a printed line per finished job, with its notification POSTed to
 * `--webhook`; and, with `--events-webhook`, each EventBridge event in the envelope EventBridge gives a
 * target (deliveredJobEvent), printed and POSTed. A webhook that cannot be reached is reported and the
 * job's outcome stands, because nothing in local mode would retry it.
 */
import { deliveredJobEvent } from './job-events.js';
import type { JobNotification } from './job-notification.js';
import { describeNotification, type Notifier } from './notifier.js';

export interface LocalNotifierOptions {
  /** Where finished jobs' notifications are POSTed. */
  readonly webhookUrl?: string;
  /** Where every event is POSTed, EventBridge-shaped. */
  readonly eventsWebhookUrl?: string;
  /** Where the lines go (default stderr). */
  readonly write?: (line: string) => void;
  /** Told when a webhook cannot be reached. */
  readonly onWebhookError?: (url: string, error: Error) => void;
}

export class LocalNotifier implements Notifier {
  constructor(private readonly opts: LocalNotifierOptions = {}) {}

  started(n: JobNotification): Promise<void> {
    return this.event(n);
  }

  async finished(n: JobNotification): Promise<void> {
    this.write(describeNotification(n));
    if (this.opts.webhookUrl) await this.post(this.opts.webhookUrl, n);
    await this.event(n);
  }

  private async event(n: JobNotification): Promise<void> {
    const url = this.opts.eventsWebhookUrl;
    if (!url) return;
    const event = deliveredJobEvent(n, new Date());
    this.write(`nst: event ${JSON.stringify(event)}`);
    await this.post(url, event);
  }

  private write(line: string): void {
    (this.opts.write ?? ((l) => process.stderr.write(`${l}\n`)))(line);
  }

  private async post(url: string, body: unknown): Promise<void> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`the webhook answered ${response.status}`);
    } catch (e) {
      this.opts.onWebhookError?.(url, e as Error);
    }
  }
}
