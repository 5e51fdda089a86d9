/**
 * The channels that tell a job's subscribers about it. The lifecycle (src/jobs/lifecycle/job-lifecycle.ts)
 * calls `started` as a job's first run starts and `finished` once it has succeeded or failed, each with the
 * one document (job-notification.ts) and the job's own waiter (a Step Functions task), and `running` at
 * each job.json write of a running job; each channel says what it carries. A channel that fails throws NOTIFICATION_FAILED,
 * which is transient: the job's event is retried, and the lifecycle tells again.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { NstError, toNstError } from '../../errors.js';
import type { JobNotification } from './job-notification.js';

/** Who waits on this one job, besides the channels' subscribers: the Step Functions task of its spec. */
export interface JobWaiter {
  readonly taskToken?: string;
}

export interface Notifier {
  /** The job's first run started (told before job.json says so, so a retried start tells again). */
  started(notification: JobNotification, waiter?: JobWaiter): Promise<void>;
  /** The job succeeded or failed (told after job.json says so, and before its lock is done). */
  finished(notification: JobNotification, waiter?: JobWaiter): Promise<void>;
  /** The job is still running (each write of its job.json): a waiter's heartbeat. */
  running?(waiter: JobWaiter): Promise<void>;
}

/**
 * Every channel, told at once: one that fails does not keep the others from their message, and the
 * failures are thrown as one (so the retry tells every channel again; subscribers see a message at least
 * once, and tell a repeat by its jobId and status). The waiters' channels are told after every other
 * channel has been: a retry for a failed broadcast does not tell a waiting workflow twice.
 */
export class Notifiers implements Notifier {
  constructor(
    private readonly channels: readonly Notifier[],
    private readonly waiters: readonly Notifier[] = [],
  ) {}

  async started(n: JobNotification, waiter: JobWaiter = {}): Promise<void> {
    await this.all(this.channels, (channel) => channel.started(n, waiter));
    await this.all(this.waiters, (channel) => channel.started(n, waiter));
  }

  async finished(n: JobNotification, waiter: JobWaiter = {}): Promise<void> {
    await this.all(this.channels, (channel) => channel.finished(n, waiter));
    await this.all(this.waiters, (channel) => channel.finished(n, waiter));
  }

  running(waiter: JobWaiter): Promise<void> {
    return this.all([...this.channels, ...this.waiters], (channel) => channel.running?.(waiter));
  }

  private async all(
    channels: readonly Notifier[],
    tell: (channel: Notifier) => Promise<void> | undefined,
  ): Promise<void> {
    const told = await Promise.allSettled(channels.map(tell));
    const failures = told.flatMap((t) => (t.status === 'rejected' ? [toNstError(t.reason)] : []));
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1)
      throw new NstError('NOTIFICATION_FAILED', failures.map((f) => f.message).join('; '), {
        cause: new AggregateError(failures),
      });
  }
}

/** One human line about a finished job. */
export function describeNotification(n: JobNotification): string {
  if (n.status === 'succeeded')
    return `nst: job ${n.jobId} succeeded: ${n.output?.uri} (status ${n.manifest})`;
  return `nst: job ${n.jobId} failed: ${n.error?.code}: ${n.error?.message} (status ${n.manifest})`;
}

/** Where no topic and no bus are configured: a log line per finished job. */
export class LogNotifier implements Notifier {
  constructor(private readonly logger: Pick<Logger, 'info'>) {}

  async started(): Promise<void> {}

  async finished(n: JobNotification): Promise<void> {
    this.logger.info(describeNotification(n), { notification: n });
  }
}
