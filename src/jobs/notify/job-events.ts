/**
 * A job's EventBridge events: `Style Transfer Job Started` as its first run starts, then one of `Style
 * Transfer Job Succeeded` or `Style Transfer Job Failed`, each with source EVENT_SOURCE and the job's
 * notification (job-notification.ts) as its detail. In AWS they are put on the configured bus
 * (eventbridge.ts); in local mode they are POSTed to a webhook in the shape EventBridge gives its targets
 * (local.ts).
 */
import { randomUUID } from 'node:crypto';
import { EVENT_SOURCE } from '../../product.js';
import type { JobNotification, NotifiedStatus } from './job-notification.js';

/** The detail-type of each event, by the job status it tells. */
export const JOB_EVENT_DETAIL_TYPES = {
  running: 'Style Transfer Job Started',
  succeeded: 'Style Transfer Job Succeeded',
  failed: 'Style Transfer Job Failed',
} as const satisfies Record<NotifiedStatus, string>;

export type JobEventDetailType = (typeof JOB_EVENT_DETAIL_TYPES)[NotifiedStatus];

/** One event as the pipeline puts it. */
export interface JobEvent {
  readonly source: typeof EVENT_SOURCE;
  readonly detailType: JobEventDetailType;
  /** The objects the event is about (S3 ARNs): the upload, and a succeeded job's result. */
  readonly resources: readonly string[];
  readonly detail: JobNotification;
}

export function jobEvent(n: JobNotification): JobEvent {
  const arn = (key: string) => `arn:aws:s3:::${n.bucket}/${key}`;
  return {
    source: EVENT_SOURCE,
    detailType: JOB_EVENT_DETAIL_TYPES[n.status],
    resources: [arn(n.input.source), ...(n.output ? [arn(n.output.key)] : [])],
    detail: n,
  };
}

/**
 * An event in the envelope EventBridge gives a target (what local mode's events webhook gets), less the
 * `account` and `region` that local mode does not have.
 */
export interface DeliveredJobEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': JobEventDetailType;
  readonly source: typeof EVENT_SOURCE;
  readonly time: string;
  readonly resources: readonly string[];
  readonly detail: JobNotification;
}

export function deliveredJobEvent(n: JobNotification, time: Date): DeliveredJobEvent {
  const { source, detailType, resources, detail } = jobEvent(n);
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source,
    // EventBridge's own precision: whole seconds.
    time: `${time.toISOString().slice(0, 19)}Z`,
    resources,
    detail,
  };
}
