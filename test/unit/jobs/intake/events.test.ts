/** The events the handler accepts: recognising them, and reading the jobs and last error of a dead letter. */
import type { S3Event } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_ATTEMPTS } from '../../../../src/jobs/deployment.js';
import {
  deadLetterFor,
  endedTilesExecution,
  isDeadLetterEvent,
  isExecutionStatusChange,
  isS3Event,
  isSweep,
  jobsNamedBy,
  readDeadLetter,
  uploadsIn,
} from '../../../../src/jobs/intake/events.js';
import { jobIdFor } from '../../../../src/jobs/spec/job-id.js';

const s3Event = (...keys: string[]) => ({
  Records: keys.map((key) => ({
    eventSource: 'aws:s3',
    eventName: 'ObjectCreated:Put',
    s3: { bucket: { name: 'b' }, object: { key, eTag: 'etag-1' } },
  })),
});

const sqs = (body: unknown, attributes: Record<string, string> = {}) => ({
  eventSource: 'aws:sqs' as const,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  messageAttributes: Object.fromEntries(
    Object.entries(attributes).map(([k, v]) => [k, { stringValue: v, dataType: 'String' }]),
  ),
});

describe('event shapes', () => {
  it('tells dead letters, S3 events and sweeps apart', () => {
    expect(isDeadLetterEvent({ Records: [sqs({})] })).toBe(true);
    expect(isDeadLetterEvent({ Records: [] })).toBe(false);
    expect(isS3Event({ Records: [sqs({})] })).toBe(false);
    expect(isS3Event(s3Event('inputs/a/p.jpg'))).toBe(true);
    expect(isSweep({ nstSweep: { bucket: 'b' } })).toBe(true);
    expect(isSweep({ nstSweep: {} })).toBe(false);
  });
});

describe('uploads under a key prefix', () => {
  it("are keyed relative to the prefix, and a record outside it is none of the pipeline's", () => {
    const event = s3Event('art/inputs/a/p%20q.jpg', 'other/inputs/a/p.jpg', 'art/jobs/j.json');
    const asS3Event = event as unknown as S3Event;
    expect(uploadsIn(asS3Event, 'art/').map((u) => u.key)).toEqual(['inputs/a/p q.jpg', 'jobs/j.json']);
    expect(jobsNamedBy(event, 'art/').map((j) => j.jobId)).toEqual([
      jobIdFor({ bucket: 'b', key: 'inputs/a/p q.jpg', etag: 'etag-1' }),
      jobIdFor({ bucket: 'b', key: 'jobs/j.json', etag: 'etag-1' }),
    ]);
    expect(uploadsIn(asS3Event, '').map((u) => u.key)).toEqual([
      'art/inputs/a/p q.jpg',
      'other/inputs/a/p.jpg',
      'art/jobs/j.json',
    ]);
  });
});

describe('dead letters', () => {
  it("reads Lambda's dead-letter queue message: the event as the body, the last error as attributes", () => {
    const dead = readDeadLetter(
      sqs(s3Event('inputs/a/p.jpg'), {
        ErrorCode: '200',
        ErrorMessage: 'RequestId: r-1 Error: Runtime exited with error:\n signal: killed',
      }),
    );
    expect(dead).toEqual({
      event: s3Event('inputs/a/p.jpg'),
      attempts: DEAD_LETTER_ATTEMPTS,
      lastError: 'RequestId: r-1 Error: Runtime exited with error: signal: killed (error code 200)',
    });
    expect(DEAD_LETTER_ATTEMPTS).toBe(3);
  });

  it("reads an on-failure destination record and EventBridge's dead letters", () => {
    const record = {
      version: '1.0',
      requestContext: { requestId: 'r', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { nstContinuation: { bucket: 'b', jobId: 'job-1' } },
      responseContext: { statusCode: 200, functionError: 'Unhandled' },
      responsePayload: { errorType: 'NstError', errorMessage: 'cannot read s3://b/x' },
    };
    expect(readDeadLetter(sqs(record))).toEqual({
      event: record.requestPayload,
      attempts: 3,
      lastError: 'NstError: cannot read s3://b/x (RetriesExhausted)',
    });
    const batch = { source: 'aws.batch', 'detail-type': 'Batch Job State Change', detail: {} };
    expect(
      readDeadLetter(
        sqs(batch, { ERROR_CODE: 'SDK_CLIENT_ERROR', ERROR_MESSAGE: 'throttled', RETRY_ATTEMPTS: '4' }),
      ),
    ).toEqual({ event: batch, attempts: 5, lastError: 'throttled (error code SDK_CLIENT_ERROR)' });
    expect(readDeadLetter(sqs('not json'))).toBeUndefined();
    expect(readDeadLetter(sqs({ nstSweep: { bucket: 'b' } }))?.lastError).toBe('no error recorded');
  });

  it('names the jobs of the original event: uploads by the same job id as the upload path', () => {
    const jobs = jobsNamedBy(s3Event('inputs/a/p%20q.jpg', 'inputs/a/', 'jobs/j.json'), '');
    expect(jobs).toEqual([
      {
        bucket: 'b',
        jobId: jobIdFor({ bucket: 'b', key: 'inputs/a/p q.jpg', etag: 'etag-1' }),
        claimant: 'event',
        upload: { bucket: 'b', key: 'inputs/a/p q.jpg', etag: 'etag-1' },
      },
      expect.objectContaining({ claimant: 'event', upload: expect.objectContaining({ key: 'jobs/j.json' }) }),
    ]);
    expect(jobsNamedBy({ nstContinuation: { bucket: 'b', jobId: 'job-1' } }, '')).toEqual([
      { bucket: 'b', jobId: 'job-1', claimant: 'continuation' },
    ]);
    const batchFailed = {
      source: 'aws.batch',
      'detail-type': 'Batch Job State Change',
      detail: { jobName: 'nst-job-2', jobId: 'bj', status: 'FAILED', parameters: { NST_BUCKET: 'b' } },
    };
    expect(jobsNamedBy(batchFailed, '')).toEqual([{ bucket: 'b', jobId: 'job-2', claimant: 'batch' }]);
    expect(jobsNamedBy({ nstSweep: { bucket: 'b' } }, '')).toEqual([]);
    expect(() => jobsNamedBy({ nstContinuation: { bucket: 'b', jobId: '../x' } }, '')).toThrow(
      /not a job id/,
    );
  });

  it("local mode's dead letter reads back as Lambda's", () => {
    const event = s3Event('inputs/a/p.jpg');
    const [record] = deadLetterFor(event, { code: 'STORAGE_UNAVAILABLE', message: 'S3 down' }).Records;
    expect(readDeadLetter(record)).toEqual({
      event,
      attempts: 3,
      lastError: 'S3 down (error code STORAGE_UNAVAILABLE)',
    });
  });
});

describe("a tiles' execution that ended", () => {
  const ended = (status: string, input: unknown = { bucket: 'b', jobId: 'photo-0123456789abcdef' }) => ({
    source: 'aws.states' as const,
    'detail-type': 'Step Functions Execution Status Change' as const,
    detail: {
      executionArn: 'arn:aws:states:us-east-1:1:execution:nst-tiles:nst-r1-photo-0123456789abcdef',
      name: 'nst-r1-photo-0123456789abcdef',
      status,
      input: JSON.stringify(input),
      error: 'States.Timeout',
      cause: 'the execution timed out',
    },
  });

  it('names the job of a failed, timed-out or aborted execution, from its input', () => {
    for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED']) {
      const event = ended(status);
      expect(isExecutionStatusChange(event)).toBe(true);
      expect(endedTilesExecution(event)).toEqual({
        bucket: 'b',
        jobId: 'photo-0123456789abcdef',
        executionArn: 'arn:aws:states:us-east-1:1:execution:nst-tiles:nst-r1-photo-0123456789abcdef',
        reason: `the tiles' execution nst-r1-photo-0123456789abcdef ended ${status} (States.Timeout: the execution timed out)`,
      });
      expect(jobsNamedBy(event, '')).toEqual([
        { bucket: 'b', jobId: 'photo-0123456789abcdef', claimant: 'tiles' },
      ]);
    }
  });

  it('names no job for a running or succeeded execution, or an input without a bucket', () => {
    expect(endedTilesExecution(ended('SUCCEEDED'))).toBeUndefined();
    expect(endedTilesExecution(ended('RUNNING'))).toBeUndefined();
    expect(
      endedTilesExecution({ ...ended('FAILED'), detail: { ...ended('FAILED').detail, input: null } }),
    ).toBeUndefined();
    expect(() => endedTilesExecution(ended('FAILED', { bucket: 'b', jobId: '../x' }))).toThrow(
      'is not a job id',
    );
  });
});
