/**
 * AWS Batch as the tests see it: the queue and job definition a worker is configured with, and the
 * 'Batch Job State Change' events EventBridge delivers for the pipeline's Batch jobs. An event carries what
 * the submitted job carries (wiring/dispatch.ts: the job name, and the bucket and job id both as parameters
 * and in the container's environment), so the handler reads it as it reads a real one (intake/events.ts).
 */
import { BATCH_JOB_ENV, PIPELINE_ENV } from '../../src/jobs/config.js';
import type { BatchJobStateChangeEvent } from '../../src/jobs/intake/events.js';
import { BATCH_JOB_PREFIX } from '../../src/jobs/wiring/dispatch.js';

export const BATCH_QUEUE = 'arn:aws:batch:us-east-1:123456789012:job-queue/nst-gpu';
export const BATCH_DEFINITION = 'arn:aws:batch:us-east-1:123456789012:job-definition/nst-gpu:3';

/** The environment of a worker that hands jobs to BATCH_QUEUE. */
export const BATCH_ENV = {
  [PIPELINE_ENV.batchJobQueue]: BATCH_QUEUE,
  [PIPELINE_ENV.batchJobDefinition]: BATCH_DEFINITION,
} as const;

/** The Batch job id the tests' Batch stand-ins answer SubmitJob with (harness.ts `captured.batch`). */
export const BATCH_JOB_ID = 'batch-job-1';

export interface BatchStateChange {
  /** The pipeline's job id: the Batch job is `nst-<jobId>`. */
  readonly jobId: string;
  /** Absent: the job names no bucket (neither parameter nor variable). */
  readonly bucket?: string;
  /** Default FAILED. */
  readonly status?: string;
  /** Batch's statusReason (absent: none). */
  readonly reason?: string;
  /** Default `nst-<jobId>`; another name is some other application's Batch job. */
  readonly jobName?: string;
  /** Default BATCH_JOB_ID. */
  readonly batchJobId?: string;
}

/** The event as EventBridge delivers it: the envelope, and the fields of `detail` the handler may read. */
export interface BatchStateChangeEvent extends BatchJobStateChangeEvent {
  readonly version: '0';
  readonly account: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: BatchJobStateChangeEvent['detail'] & {
    readonly jobArn: string;
    readonly jobQueue: string;
    readonly jobDefinition: string;
  };
}

export function batchStateChange(change: BatchStateChange): BatchStateChangeEvent {
  const batchJobId = change.batchJobId ?? BATCH_JOB_ID;
  const jobArn = `arn:aws:batch:us-east-1:123456789012:job/${batchJobId}`;
  const named = {
    ...(change.bucket === undefined ? {} : { [BATCH_JOB_ENV.bucket]: change.bucket }),
    [BATCH_JOB_ENV.jobId]: change.jobId,
  };
  return {
    version: '0',
    source: 'aws.batch',
    'detail-type': 'Batch Job State Change',
    account: '123456789012',
    region: 'us-east-1',
    resources: [jobArn],
    detail: {
      jobName: change.jobName ?? `${BATCH_JOB_PREFIX}${change.jobId}`,
      jobId: batchJobId,
      jobArn,
      jobQueue: BATCH_QUEUE,
      jobDefinition: BATCH_DEFINITION,
      status: change.status ?? 'FAILED',
      ...(change.reason === undefined ? {} : { statusReason: change.reason }),
      parameters: named,
      container: { environment: Object.entries(named).map(([name, value]) => ({ name, value })) },
    },
  };
}
