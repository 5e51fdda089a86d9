/**
 * Notifications for finished jobs (succeeded and failed). In AWS: one SNS message per job, with message
 * attributes subscribers can filter on (status, jobId) and a JSON body. Locally: a printed line, and a POST
 * of the same JSON to a webhook when one is set.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { NstError } from '../../errors.js';
import { outputKeys } from '../spec/keys.js';
import type { JobManifest } from './manifest.js';

export interface JobNotification {
  readonly jobId: string;
  readonly status: 'succeeded' | 'failed';
  readonly bucket: string;
  readonly input: { readonly source: string; readonly content?: string; readonly styles: readonly string[] };
  /** The result's URI (succeeded jobs only). */
  readonly output?: string;
  /** The status manifest's URI. */
  readonly manifest: string;
  readonly timings: JobManifest['timings'];
  readonly error?: JobManifest['error'];
}

export interface Notifier {
  notify(notification: JobNotification): Promise<void>;
}

/** The notification of a finished job, from its manifest. */
export function notificationFor(manifest: JobManifest): JobNotification {
  const uri = (key: string) => `s3://${manifest.bucket}/${key}`;
  const status = manifest.status === 'succeeded' ? 'succeeded' : 'failed';
  return {
    jobId: manifest.jobId,
    status,
    bucket: manifest.bucket,
    input: {
      source: uri(manifest.source.key),
      ...(manifest.spec ? { content: uri(manifest.spec.content) } : {}),
      styles: manifest.spec?.styles.map((s) => uri(s.key)) ?? [],
    },
    ...(manifest.output ? { output: uri(manifest.output.key) } : {}),
    manifest: uri(outputKeys(manifest.jobId).manifest),
    timings: manifest.timings,
    ...(manifest.error ? { error: manifest.error } : {}),
  };
}

export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(n: JobNotification): Promise<void> {
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

/** One human line per job. */
function describeNotification(n: JobNotification): string {
  if (n.status === 'succeeded') return `nst: job ${n.jobId} succeeded: ${n.output} (status ${n.manifest})`;
  return `nst: job ${n.jobId} failed: ${n.error?.code}: ${n.error?.message} (status ${n.manifest})`;
}

export interface LocalNotifierOptions {
  readonly webhookUrl?: string;
  readonly write?: (line: string) => void;
  /** Told when the webhook cannot be reached (the job's outcome stands either way). */
  readonly onWebhookError?: (error: Error) => void;
}

export class LocalNotifier implements Notifier {
  constructor(private readonly opts: LocalNotifierOptions = {}) {}

  async notify(n: JobNotification): Promise<void> {
    (this.opts.write ?? ((line) => process.stderr.write(`${line}\n`)))(describeNotification(n));
    if (!this.opts.webhookUrl) return;
    try {
      const response = await fetch(this.opts.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(n),
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`the webhook answered ${response.status}`);
    } catch (e) {
      this.opts.onWebhookError?.(e as Error);
    }
  }
}

/** Where no topic is configured: the notification goes to the log only. */
export class LogNotifier implements Notifier {
  constructor(private readonly logger: Pick<Logger, 'info'>) {}

  async notify(n: JobNotification): Promise<void> {
    this.logger.info(describeNotification(n), { notification: n });
  }
}
