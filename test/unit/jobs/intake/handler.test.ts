/**
 * handleEvent's dispatch, over the in-memory S3: each kind of event reaches its entry point and ends where
 * it should (job.json, the lock, one notification), with events that need no stylisation, so no weights are
 * loaded and no engine is built (the worker's loadWeights and createEngine throw, and are checked unused).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadLetterFor } from '../../../../src/jobs/intake/events.js';
import { handleEvent } from '../../../../src/jobs/intake/handler.js';
import type { LockRecord } from '../../../../src/jobs/lifecycle/lock.js';
import { type JobManifest, newManifest, transition } from '../../../../src/jobs/lifecycle/manifest.js';
import { jobIdFor } from '../../../../src/jobs/spec/job-id.js';
import { BATCH_JOB_ID, BATCH_QUEUE, batchStateChange } from '../../../helpers/batch-events.js';
import {
  BUCKET,
  invocation,
  jsonAt,
  type MemoryWorker,
  memoryWorker,
  T0,
} from '../../../helpers/worker-deps.js';

let w: MemoryWorker;
beforeEach(() => {
  w = memoryWorker();
});
afterEach(() => {
  // None of these events needs a stylisation.
  expect(w.loadWeights).not.toHaveBeenCalled();
  expect(w.createEngine).not.toHaveBeenCalled();
});

const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000).toISOString();
const handle = (event: unknown) => handleEvent(w.deps, invocation(), event);
const manifestOf = (jobId: string) => jsonAt<JobManifest>(w.s3, `outputs/${jobId}/job.json`);
const lockOf = (jobId: string) => jsonAt<LockRecord>(w.s3, `outputs/${jobId}/lock.json`);

interface Upload {
  readonly key: string;
  /** As S3 events carry it: without quotes. */
  readonly etag: string;
  readonly jobId: string;
}

/**
 * Puts an object, as a user's upload. A drop-in photo is never decoded before its style is found, so the
 * bytes need not be an image.
 */
async function upload(key: string): Promise<Upload> {
  await w.store.put(key, `bytes of ${key}`);
  const etag = w.s3.object(key, BUCKET)!.etag.replace(/"/g, '');
  return { key, etag, jobId: jobIdFor({ bucket: BUCKET, key, etag }) };
}

/** The S3 event of ObjectCreated records for `uploads`. */
const s3Event = (...uploads: Pick<Upload, 'key' | 'etag'>[]) => ({
  Records: uploads.map(({ key, etag }) => ({
    eventSource: 'aws:s3',
    eventName: 'ObjectCreated:Put',
    s3: { bucket: { name: BUCKET }, object: { key, eTag: etag } },
  })),
});

const styleNotFound = {
  code: 'STYLE_NOT_FOUND',
  message: `no style painting s3://${BUCKET}/styles/starry.{jpg,jpeg,png,webp,avif,tif,tiff,gif}: upload the painting there first`,
} as const;

describe('S3 records', () => {
  it('skips keys that are not jobs, writing nothing', async () => {
    const event = s3Event({ key: 'inputs/starry/', etag: 'e1' }, { key: 'jobs/readme.txt', etag: 'e2' });
    expect(await handle(event)).toEqual([
      { key: 'inputs/starry/', status: 'skipped', detail: 'not a job' },
      { key: 'jobs/readme.txt', status: 'skipped', detail: 'not a job' },
    ]);
    expect(w.s3.writes()).toEqual([]);
    expect(w.notifier.sent).toEqual([]);
  });

  it('fails a drop-in whose style painting is missing, with one notification; a duplicate changes nothing', async () => {
    const photo = await upload('inputs/starry/photo.jpg');
    const event = s3Event(photo);
    const failed = { jobId: photo.jobId, status: 'failed', error: styleNotFound };
    expect(await handle(event)).toEqual([failed]);

    const source = { key: photo.key, kind: 'drop-in', etag: photo.etag };
    const timings = { createdAt: at(0), finishedAt: at(0), phases: { fetch: 0, stylize: 0, store: 0 } };
    expect(manifestOf(photo.jobId)).toEqual({
      jobId: photo.jobId,
      status: 'failed',
      error: styleNotFound,
      bucket: BUCKET,
      source,
      runs: 0,
      continuations: 0,
      timings,
      history: [
        { status: 'queued', at: at(0), detail: `drop-in ${photo.key}` },
        { status: 'failed', at: at(0), detail: 'STYLE_NOT_FOUND' },
      ],
    });
    expect(w.notifier.sent).toEqual([
      {
        jobId: photo.jobId,
        status: 'failed',
        bucket: BUCKET,
        input: { source: photo.key, styles: [] },
        manifest: `s3://${BUCKET}/outputs/${photo.jobId}/job.json`,
        timings,
        error: styleNotFound,
      },
    ]);
    expect(lockOf(photo.jobId)).toMatchObject({ state: 'done', owner: 'req-1' });

    // S3 delivers at least once: the second delivery finds the lock done.
    const writes = w.s3.writes().length;
    expect(await handle(event)).toEqual([{ jobId: photo.jobId, status: 'skipped', detail: 'finished' }]);
    expect(w.notifier.sent).toHaveLength(1);
    expect(w.s3.writes()).toHaveLength(writes);
  });

  it('runs every record when one fails transiently, and rethrows that failure at the end', async () => {
    const [a, b] = [await upload('inputs/starry/a.jpg'), await upload('inputs/starry/b.jpg')];
    const logged = vi.spyOn(w.deps.logger, 'error');
    w.s3.failNext('GetObject', { key: a.key });
    const unavailable = `cannot read s3://${BUCKET}/${a.key}: Service is unable to handle request.`;

    await expect(handle(s3Event(a, b))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: unavailable,
    });
    // a is released for the retry (anyone may take it at once); b ran to its end regardless.
    expect(manifestOf(a.jobId)).toBeUndefined();
    expect(lockOf(a.jobId)).toEqual({
      jobId: a.jobId,
      state: 'handoff',
      owner: 'req-1',
      leaseExpiresAt: at(0),
      updatedAt: at(0),
    });
    expect(manifestOf(b.jobId)).toMatchObject({ status: 'failed', error: styleNotFound });
    expect(w.notifier.sent.map((n) => n.jobId)).toEqual([b.jobId]);
    expect(logged).toHaveBeenCalledWith('record failed: the event will be retried', {
      key: a.key,
      error: unavailable,
      code: 'STORAGE_UNAVAILABLE',
    });

    // The platform's retry runs a, and finds b finished.
    expect(await handle(s3Event(a, b))).toEqual([
      { jobId: a.jobId, status: 'failed', error: styleNotFound },
      { jobId: b.jobId, status: 'skipped', detail: 'finished' },
    ]);
    expect(w.notifier.sent.map((n) => n.jobId)).toEqual([b.jobId, a.jobId]);
  });
});

describe('continuations', () => {
  it('skips a job with no job.json, and gives its lock up at once', async () => {
    const jobId = 'ghost-0123456789abcdef';
    expect(await handle({ nstContinuation: { bucket: BUCKET, jobId } })).toEqual([
      { jobId, status: 'skipped', detail: `no job.json with a spec for ${jobId}` },
    ]);
    expect(manifestOf(jobId)).toBeUndefined();
    expect(lockOf(jobId)).toMatchObject({ state: 'handoff', leaseExpiresAt: at(0) });
    expect(lockOf(jobId)).not.toHaveProperty('to');
  });
});

describe('AWS Batch state changes', () => {
  const jobId = 'gpu-0123456789abcdef';

  /** What a hand-off to Batch leaves: job.json `queued` with the Batch job, the lock handed to Batch. */
  async function queuedOnBatch(): Promise<void> {
    const source = { key: 'inputs/starry/gpu.jpg', kind: 'drop-in', etag: 'e' } as const;
    const queued = transition(newManifest(jobId, BUCKET, source, T0), 'queued', T0, 'to Batch', {
      batch: { jobId: BATCH_JOB_ID, jobQueue: BATCH_QUEUE },
    });
    await w.store.putJson(`outputs/${jobId}/job.json`, queued);
    const lock: LockRecord = {
      jobId,
      state: 'handoff',
      owner: 'req-0',
      leaseExpiresAt: at(24 * 3600),
      to: 'batch',
      updatedAt: at(0),
    };
    await w.store.putJson(`outputs/${jobId}/lock.json`, lock);
    w.setNow(new Date(at(3600)));
  }

  it.each([
    {
      reason: 'Host EC2 instance terminated',
      error: {
        code: 'BATCH_JOB_FAILED',
        message: `AWS Batch job ${BATCH_JOB_ID} failed: Host EC2 instance terminated`,
      },
    },
    {
      reason: 'Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
      error: {
        code: 'BATCH_NO_CAPACITY',
        message:
          `AWS Batch job ${BATCH_JOB_ID} was cancelled: no GPU capacity or quota was available within the ` +
          "queue's time limit for waiting (Canceled by JobStateTimeLimit action due to reason: " +
          'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY); try again later, or raise the GPU instance quota',
      },
    },
  ])('a FAILED nst- job ends its job failed with $error.code', async ({ reason, error }) => {
    await queuedOnBatch();
    expect(await handle(batchStateChange({ jobId, bucket: BUCKET, reason }))).toEqual([
      { jobId, status: 'failed', error },
    ]);
    expect(manifestOf(jobId)).toMatchObject({
      status: 'failed',
      error,
      batch: { jobId: BATCH_JOB_ID, jobQueue: BATCH_QUEUE },
      timings: { finishedAt: at(3600) },
    });
    expect(w.notifier.sent).toEqual([expect.objectContaining({ jobId, status: 'failed', error })]);
    expect(lockOf(jobId)).toMatchObject({ state: 'done' });
  });

  it('acts on no other status, no other job, and no event without its bucket', async () => {
    const logged = vi.spyOn(w.deps.logger, 'error');
    for (const status of ['SUBMITTED', 'RUNNABLE', 'RUNNING', 'SUCCEEDED'])
      expect(await handle(batchStateChange({ jobId, bucket: BUCKET, status }))).toEqual([]);
    const other = batchStateChange({ jobId, bucket: BUCKET, jobName: 'render-frames', reason: 'x' });
    expect(await handle(other)).toEqual([]);
    expect(await handle(batchStateChange({ jobId, reason: 'Host EC2 instance terminated' }))).toEqual([]);
    expect(logged).toHaveBeenCalledWith('Batch event without its bucket: cannot mark the job failed', {
      jobId,
    });
    expect(w.s3.calls()).toEqual([]);
    expect(w.notifier.sent).toEqual([]);
  });
});

describe('dead letters', () => {
  it('abandons the job of a dead-lettered upload, making its job.json from the upload', async () => {
    const photo = { key: 'inputs/starry/lost.jpg', etag: '0123abcd' };
    const jobId = jobIdFor({ bucket: BUCKET, ...photo });
    const killed = 'RequestId: 7f0c Error: Runtime exited with error: signal: killed';
    const error = {
      code: 'JOB_ABANDONED',
      message: `the job's worker failed or died after 3 attempts; the last error: ${killed}`,
    };
    expect(await handle(deadLetterFor(s3Event(photo), { message: killed }))).toEqual([
      { jobId, status: 'failed', error },
    ]);
    expect(manifestOf(jobId)).toMatchObject({
      status: 'failed',
      error,
      source: { key: photo.key, kind: 'drop-in', etag: photo.etag },
      runs: 0,
      history: [
        { status: 'queued', at: at(0), detail: `drop-in ${photo.key}` },
        { status: 'failed', at: at(0), detail: 'JOB_ABANDONED' },
      ],
    });
    expect(w.notifier.sent).toEqual([expect.objectContaining({ jobId, status: 'failed', error })]);
  });
});

describe('the sweep', () => {
  it('returns nothing for an empty bucket', async () => {
    expect(await handle({ nstSweep: { bucket: BUCKET } })).toEqual([]);
  });

  it('returns the outcome of each job it ends', async () => {
    const jobId = 'stale-0123456789abcdef';
    const source = { key: 'inputs/starry/stale.jpg', kind: 'drop-in', etag: 'e' } as const;
    const running = transition(newManifest(jobId, BUCKET, source, T0), 'running', T0, 'lambda run 1', {
      runs: 1,
    });
    await w.store.putJson(`outputs/${jobId}/job.json`, running);
    const lock: LockRecord = {
      jobId,
      state: 'held',
      owner: 'dead',
      leaseExpiresAt: at(45),
      updatedAt: at(0),
    };
    await w.store.putJson(`outputs/${jobId}/lock.json`, lock);
    // Past the function's timeout and the sweep's margin (900 + 300 s): the worker is dead.
    w.setNow(new Date(at(3600)));
    const error = {
      code: 'JOB_ABANDONED',
      message:
        `its worker stopped: no sign of it since ${at(0)} (status running, in Lambda); ` +
        'abandoned by the sweeper, no checkpoint to resume from',
    };
    expect(await handle({ nstSweep: { bucket: BUCKET } })).toEqual([{ jobId, status: 'failed', error }]);
    expect(manifestOf(jobId)).toMatchObject({ status: 'failed', error });
    expect(w.notifier.sent).toEqual([expect.objectContaining({ jobId, error })]);
  });
});

describe('unknown events', () => {
  it('are ignored with a warning', async () => {
    const warned = vi.spyOn(w.deps.logger, 'warn');
    const event = { hello: 'world' };
    expect(await handle(event)).toEqual([]);
    expect(warned).toHaveBeenCalledWith(
      'event ignored: not an S3, continuation, Batch, Step Functions, dead-letter or sweep event, nor a spec with a task token',
      { event },
    );
    expect(w.s3.calls()).toEqual([]);
  });
});

describe('events that name a bad job id', () => {
  it('are dropped with an error logged, not retried: a retry cannot make the id good', async () => {
    const logged = vi.spyOn(w.deps.logger, 'error');
    const continuation = { nstContinuation: { bucket: BUCKET, jobId: '../escape' } };
    expect(await handle(continuation)).toEqual([]);
    expect(await handle(batchStateChange({ jobId: 'Not/A-Job', bucket: BUCKET }))).toEqual([]);
    expect(logged).toHaveBeenCalledTimes(2);
    expect(logged.mock.calls.map(([message]) => message)).toEqual([
      'event names a bad job: dropped',
      'event names a bad job: dropped',
    ]);
    expect(w.s3.calls()).toEqual([]);
  });
});
