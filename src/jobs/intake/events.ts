/**
 * The events the handler accepts (handler.ts), their shapes, and the jobs each names:
 * - S3 events: a job per ObjectCreated record (keys form-URL-encoded as S3 sends them);
 * - continuations `{ "nstContinuation": { "bucket", "jobId" } }` (a deadline, or the sweeper resuming a job);
 * - AWS Batch job state changes (EventBridge) of `nst-<jobId>` Batch jobs;
 * - Step Functions execution status changes (EventBridge) of the tiles' executions that ended without
 *   succeeding (failed, timed out, aborted);
 * - dead letters: SQS records from the function's dead-letter queue, whose body is one of the events above
 *   after Lambda's retries ran out, and whose attributes carry the last error (Lambda's `ErrorCode` and
 *   `ErrorMessage`);
 * - the sweep `{ "nstSweep": { "bucket" } }` (an EventBridge schedule);
 * - a job a Step Functions task waits on: a direct invoke (`.waitForTaskToken`) whose payload is a job spec
 *   plus its `taskToken` (and optionally the `bucket`).
 */
import type { S3Event } from 'aws-lambda';
import { decodeEventKey } from '../../storage/event-keys.js';
import { pipelineKeyOf } from '../../storage/key-prefix.js';
import { BATCH_JOB_ENV } from '../config.js';
import { DEAD_LETTER_ATTEMPTS } from '../deployment.js';
import type { Claimant } from '../lifecycle/lock.js';
import { checkJobId, jobIdFor, type UploadVersion } from '../spec/job-id.js';
import { classifyKey } from '../spec/keys.js';
import { BATCH_JOB_PREFIX, type ContinuationEvent } from '../wiring/dispatch.js';

export interface BatchJobStateChangeEvent {
  readonly source: 'aws.batch';
  readonly 'detail-type': 'Batch Job State Change';
  readonly detail: {
    readonly jobName: string;
    readonly jobId: string;
    readonly status: string;
    readonly statusReason?: string;
    readonly parameters?: Readonly<Record<string, string>>;
    readonly container?: {
      readonly environment?: readonly { name: string; value: string }[];
      readonly reason?: string;
    };
  };
}

/** EventBridge's event for a Step Functions execution's status change (only the fields read here). */
export interface ExecutionStatusChangeEvent {
  readonly source: 'aws.states';
  readonly 'detail-type': 'Step Functions Execution Status Change';
  readonly detail: {
    readonly executionArn: string;
    readonly name: string;
    readonly status: string;
    /** The execution's input as JSON (null when EventBridge dropped it for size). */
    readonly input?: string | null;
    readonly error?: string | null;
    readonly cause?: string | null;
  };
}

/** The statuses of an execution that ended without succeeding. */
const EXECUTION_ENDS = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/** One message of the dead-letter queue, as the SQS event source delivers it. */
interface DeadLetterRecord {
  readonly eventSource: 'aws:sqs';
  readonly messageId?: string;
  /** The original asynchronous event, as JSON. */
  readonly body: string;
  readonly messageAttributes?: Readonly<Record<string, { readonly stringValue?: string }>>;
}

export interface DeadLetterEvent {
  readonly Records: readonly DeadLetterRecord[];
}

export interface SweepEvent {
  readonly nstSweep: { readonly bucket: string };
}

const records = (e: unknown): unknown[] | undefined => {
  const r = (e as { Records?: unknown })?.Records;
  return Array.isArray(r) ? r : undefined;
};
const eventSourceOf = (r: unknown) => (r as { eventSource?: unknown })?.eventSource;

export const isS3Event = (e: unknown): e is S3Event =>
  records(e)?.every((r) => eventSourceOf(r) === 'aws:s3') ?? false;
export const isDeadLetterEvent = (e: unknown): e is DeadLetterEvent => {
  const r = records(e);
  return r !== undefined && r.length > 0 && r.every((x) => eventSourceOf(x) === 'aws:sqs');
};
export const isContinuation = (e: unknown): e is ContinuationEvent =>
  typeof (e as ContinuationEvent)?.nstContinuation === 'object';
export const isBatchStateChange = (e: unknown): e is BatchJobStateChangeEvent =>
  (e as BatchJobStateChangeEvent)?.source === 'aws.batch' &&
  (e as BatchJobStateChangeEvent)['detail-type'] === 'Batch Job State Change';
export const isExecutionStatusChange = (e: unknown): e is ExecutionStatusChangeEvent =>
  (e as ExecutionStatusChangeEvent)?.source === 'aws.states' &&
  (e as ExecutionStatusChangeEvent)['detail-type'] === 'Step Functions Execution Status Change';
export const isSweep = (e: unknown): e is SweepEvent =>
  typeof (e as SweepEvent)?.nstSweep?.bucket === 'string';

/** A direct invoke from a Step Functions task: a job spec, its task's token, and optionally the bucket. */
export interface WaitedJobEvent {
  readonly taskToken: string;
  readonly bucket?: string;
  readonly [specField: string]: unknown;
}

export const isWaitedJob = (e: unknown): e is WaitedJobEvent =>
  typeof e === 'object' &&
  e !== null &&
  !Array.isArray(e) &&
  typeof (e as WaitedJobEvent).taskToken === 'string';

/**
 * The uploads of an S3 event's ObjectCreated records, keys decoded and relative to the pipeline's key
 * prefix; a record outside the prefix is none of the pipeline's (another tenant of a shared bucket).
 */
export function uploadsIn(event: S3Event, keyPrefix: string): UploadVersion[] {
  return event.Records.filter((r) => r.eventName.startsWith('ObjectCreated:')).flatMap((record) => {
    const key = pipelineKeyOf(keyPrefix, decodeEventKey(record.s3.object.key));
    if (key === undefined) return [];
    return [
      {
        bucket: record.s3.bucket.name,
        key,
        etag: record.s3.object.eTag,
        ...(record.s3.object.versionId ? { versionId: record.s3.object.versionId } : {}),
      },
    ];
  });
}

/** The job of a FAILED `nst-<jobId>` Batch job (bucket absent when the event does not name it). */
export function failedBatchJob(
  event: BatchJobStateChangeEvent,
): { bucket?: string; jobId: string; batchJobId: string; reason: string } | undefined {
  const { detail } = event;
  if (detail.status !== 'FAILED' || !detail.jobName.startsWith(BATCH_JOB_PREFIX)) return undefined;
  const env = Object.fromEntries((detail.container?.environment ?? []).map((v) => [v.name, v.value]));
  const named = (name: string): string | undefined => detail.parameters?.[name] ?? env[name];
  return {
    bucket: named(BATCH_JOB_ENV.bucket),
    jobId: checkJobId(named(BATCH_JOB_ENV.jobId) ?? detail.jobName.slice(BATCH_JOB_PREFIX.length)),
    batchJobId: detail.jobId,
    reason: detail.statusReason ?? detail.container?.reason ?? 'no reason given',
  };
}

/**
 * The job of a tiles' execution that ended without succeeding, from the execution's input
 * (`{ bucket, jobId }`), and why it ended; undefined for any other status or an input that names no job.
 */
export function endedTilesExecution(
  event: ExecutionStatusChangeEvent,
): { bucket: string; jobId: string; executionArn: string; reason: string } | undefined {
  const { detail } = event;
  if (!EXECUTION_ENDS.includes(detail.status)) return undefined;
  let input: { bucket?: unknown; jobId?: unknown } | undefined;
  try {
    input = JSON.parse(detail.input ?? 'null');
  } catch {
    input = undefined;
  }
  if (typeof input?.bucket !== 'string') return undefined;
  const why = [detail.error, detail.cause].filter(Boolean).join(': ');
  return {
    bucket: input.bucket,
    jobId: checkJobId(input.jobId),
    executionArn: detail.executionArn,
    reason: `the tiles' execution ${detail.name} ended ${detail.status}${why ? ` (${why})` : ''}`,
  };
}

/** A job a dead-lettered event named; `upload` when the event was its upload (a job.json can be made). */
export interface NamedJob {
  readonly bucket: string;
  readonly jobId: string;
  /** Who the dead event would have claimed the lock as. */
  readonly claimant: Claimant;
  readonly upload?: UploadVersion;
}

/** The jobs an event names (none for a sweep or an unknown event); S3 keys under `keyPrefix`. */
export function jobsNamedBy(event: unknown, keyPrefix: string): NamedJob[] {
  if (isS3Event(event)) {
    return uploadsIn(event, keyPrefix)
      .filter((upload) => classifyKey(upload.key).kind !== 'ignored')
      .map((upload) => ({ bucket: upload.bucket, jobId: jobIdFor(upload), claimant: 'event', upload }));
  }
  if (isContinuation(event)) {
    const { bucket, jobId } = event.nstContinuation;
    return [{ bucket, jobId: checkJobId(jobId), claimant: 'continuation' }];
  }
  if (isBatchStateChange(event)) {
    const failed = failedBatchJob(event);
    return failed?.bucket ? [{ bucket: failed.bucket, jobId: failed.jobId, claimant: 'batch' }] : [];
  }
  if (isExecutionStatusChange(event)) {
    const ended = endedTilesExecution(event);
    return ended ? [{ bucket: ended.bucket, jobId: ended.jobId, claimant: 'tiles' }] : [];
  }
  return [];
}

/** What a dead letter says: the original event, how often it was tried, and the last error. */
export interface DeadLetter {
  readonly event: unknown;
  readonly attempts: number;
  readonly lastError: string;
}

/** Lambda's on-failure destination record (the SQS destination's message body). */
interface InvocationRecord {
  readonly requestContext: { readonly approximateInvokeCount?: number; readonly condition?: string };
  readonly requestPayload: unknown;
  readonly responsePayload?: { readonly errorType?: string; readonly errorMessage?: string };
}

const isInvocationRecord = (e: unknown): e is InvocationRecord =>
  typeof (e as InvocationRecord)?.requestContext === 'object' && 'requestPayload' in (e as object);

const oneLine = (text: string | undefined) => text?.replace(/\s+/g, ' ').trim().slice(0, 1000) || undefined;

/**
 * Reads a dead letter in any of the three shapes AWS writes: a Lambda dead-letter queue message (the
 * event as the body, `ErrorCode` / `ErrorMessage` attributes), an EventBridge target's dead letter (the
 * event, `ERROR_CODE` / `ERROR_MESSAGE` / `RETRY_ATTEMPTS`), or a Lambda on-failure destination record
 * (`requestPayload`, `responsePayload`, `requestContext.approximateInvokeCount`). Undefined: not JSON.
 */
export function readDeadLetter(record: DeadLetterRecord): DeadLetter | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return undefined;
  }
  if (isInvocationRecord(body)) {
    const response = body.responsePayload;
    const error = oneLine([response?.errorType, response?.errorMessage].filter(Boolean).join(': '));
    const condition = body.requestContext.condition;
    return {
      event: body.requestPayload,
      attempts: body.requestContext.approximateInvokeCount ?? DEAD_LETTER_ATTEMPTS,
      lastError: `${error ?? 'no error recorded'}${condition ? ` (${condition})` : ''}`,
    };
  }
  const attribute = (...names: string[]) =>
    names.map((n) => record.messageAttributes?.[n]?.stringValue).find((v) => v !== undefined);
  const message = oneLine(attribute('ErrorMessage', 'ERROR_MESSAGE')) ?? 'no error recorded';
  const code = oneLine(attribute('ErrorCode', 'ERROR_CODE'));
  const retries = Number(attribute('RETRY_ATTEMPTS'));
  return {
    event: body,
    attempts: Number.isInteger(retries) && retries >= 0 ? retries + 1 : DEAD_LETTER_ATTEMPTS,
    lastError: code ? `${message} (error code ${code})` : message,
  };
}

/** The dead letter of an event whose retries ran out, as Lambda's dead-letter queue has it (local mode). */
export function deadLetterFor(event: unknown, error: { code?: string; message: string }): DeadLetterEvent {
  return {
    Records: [
      {
        eventSource: 'aws:sqs',
        body: JSON.stringify(event),
        messageAttributes: {
          ErrorMessage: { stringValue: error.message },
          ...(error.code ? { ErrorCode: { stringValue: error.code } } : {}),
        },
      },
    ],
  };
}
