/**
 * The pipeline's event handler, shared by the Lambda function and the local mode. It accepts:
 * - S3 events (several records each; keys form-URL-encoded as S3 sends them): a job per ObjectCreated record;
 * - continuations `{ "nstContinuation": { "bucket", "jobId" } }` (the function invoking itself at a deadline);
 * - AWS Batch job state changes (EventBridge): a FAILED `nst-<jobId>` Batch job marks its job failed.
 *
 * Records are processed in order. A transient failure of one record does not stop the others; it is
 * rethrown at the end so the platform retries the event, and the records that finished are then skipped
 * as duplicates by their locks.
 */
import type { S3Event } from 'aws-lambda';
import { isNstError } from '../errors.js';
import { decodeEventKey } from '../storage/event-keys.js';
import { BATCH_JOB_ENV } from './config.js';
import { BATCH_JOB_PREFIX, type ContinuationEvent } from './dispatch.js';
import { checkJobId } from './job-id.js';
import type { Invocation, JobOutcome } from './locked-job.js';
import type { PipelineDeps } from './pipeline-deps.js';
import { continueJob, failBatchJob, runUploadedJob } from './runner.js';

interface BatchJobStateChangeEvent {
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

const isS3Event = (e: unknown): e is S3Event =>
  Array.isArray((e as S3Event)?.Records) && (e as S3Event).Records.every((r) => r.eventSource === 'aws:s3');
const isContinuation = (e: unknown): e is ContinuationEvent =>
  typeof (e as ContinuationEvent)?.nstContinuation === 'object';
const isBatchStateChange = (e: unknown): e is BatchJobStateChangeEvent =>
  (e as BatchJobStateChangeEvent)?.source === 'aws.batch' &&
  (e as BatchJobStateChangeEvent)['detail-type'] === 'Batch Job State Change';

export async function handleEvent(
  deps: PipelineDeps,
  inv: Invocation,
  event: unknown,
): Promise<JobOutcome[]> {
  if (isS3Event(event)) return handleS3Event(deps, inv, event);
  if (isContinuation(event)) {
    const { bucket, jobId } = event.nstContinuation;
    return [await continueJob(deps, inv, { bucket, jobId: checkJobId(jobId) }, 'continuation')];
  }
  if (isBatchStateChange(event)) return handleBatchStateChange(deps, inv, event);
  deps.logger.warn('event ignored: not an S3, continuation or Batch event', { event });
  return [];
}

async function handleS3Event(deps: PipelineDeps, inv: Invocation, event: S3Event): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = [];
  let transient: unknown;
  for (const record of event.Records) {
    if (!record.eventName.startsWith('ObjectCreated:')) continue;
    const upload = {
      bucket: record.s3.bucket.name,
      key: decodeEventKey(record.s3.object.key),
      etag: record.s3.object.eTag,
      ...(record.s3.object.versionId ? { versionId: record.s3.object.versionId } : {}),
    };
    try {
      outcomes.push(await runUploadedJob(deps, inv, upload));
    } catch (e) {
      deps.logger.error('record failed: the event will be retried', {
        key: upload.key,
        error: (e as Error).message,
        code: isNstError(e) ? e.code : undefined,
      });
      transient ??= e;
    }
  }
  if (transient) throw transient;
  return outcomes;
}

async function handleBatchStateChange(
  deps: PipelineDeps,
  inv: Invocation,
  event: BatchJobStateChangeEvent,
): Promise<JobOutcome[]> {
  const { detail } = event;
  if (detail.status !== 'FAILED' || !detail.jobName.startsWith(BATCH_JOB_PREFIX)) return [];
  const env = Object.fromEntries((detail.container?.environment ?? []).map((v) => [v.name, v.value]));
  const named = (name: string): string | undefined => detail.parameters?.[name] ?? env[name];
  const bucket = named(BATCH_JOB_ENV.bucket);
  const jobId = checkJobId(named(BATCH_JOB_ENV.jobId) ?? detail.jobName.slice(BATCH_JOB_PREFIX.length));
  if (!bucket) {
    deps.logger.error(`Batch event without ${BATCH_JOB_ENV.bucket}: cannot mark the job failed`, { jobId });
    return [];
  }
  const reason = detail.statusReason ?? detail.container?.reason ?? 'no reason given';
  return [await failBatchJob(deps, inv, { bucket, jobId, batchJobId: detail.jobId, reason })];
}
