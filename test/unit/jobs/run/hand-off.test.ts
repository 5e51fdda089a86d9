/**
 * Handing a claimed job on (run/hand-off.ts), over the in-memory S3: at a deadline, the checkpoint first
 * (image, then record), then job.json `queued`, the dispatch and the lock in the order each target needs
 * (a continuation is dispatched after job.json says `queued`; Batch is submitted before, so a failed
 * submission leaves job.json as it was); the lock's hand-off lease per target; and JOB_TOO_LARGE once a
 * job without Batch has used its continuations.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Checkpoint } from '../../../../src/engine/stylize.js';
import { NstError } from '../../../../src/errors.js';
import type { LockRecord } from '../../../../src/jobs/lifecycle/lock.js';
import { type JobOutcome, withLockedJob } from '../../../../src/jobs/lifecycle/locked-job.js';
import { type JobManifest, newManifest, transition } from '../../../../src/jobs/lifecycle/manifest.js';
import { handOffAtDeadline, handOffToBatch } from '../../../../src/jobs/run/hand-off.js';
import type { Dispatcher, RunContext } from '../../../../src/jobs/run/run-context.js';
import { BATCH_ENV, BATCH_JOB_ID, BATCH_QUEUE } from '../../../helpers/batch-events.js';
import {
  BUCKET,
  invocation,
  jsonAt,
  type MemoryWorker,
  memoryWorker,
  T0,
} from '../../../helpers/worker-deps.js';

const JOB = 'long-0123456789abcdef';
const DIR = `outputs/${JOB}/`;
const SOURCE = { key: 'inputs/starry/long.jpg', kind: 'drop-in', etag: 'e' } as const;
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000).toISOString();

/** Where the run stopped: scale 2, after 3 iterations of it (a tiny image: only its bytes are stored). */
const CHECKPOINT: Checkpoint = {
  scaleIndex: 1,
  iteration: 3,
  image: { width: 4, height: 3, data: new Float32Array(4 * 3 * 3).fill(100) },
};
/** Iterations this run did before it stopped. */
const RUN_ITERATIONS = 5;

/** job.json as a run that started leaves it: `running`, after earlier runs' continuations and iterations. */
async function running(w: MemoryWorker, continuations: number): Promise<void> {
  const queued = { ...newManifest(JOB, BUCKET, SOURCE, T0), continuations, iterations: 4 };
  await w.store.putJson(`${DIR}job.json`, transition(queued, 'running', T0, 'lambda run 1', { runs: 1 }));
}

/**
 * Claims the job (its job.json, else a new one) in a Lambda invocation near its deadline, and runs `step`
 * on it as the run that reached the hand-off.
 */
const claimed = (w: MemoryWorker, step: (run: RunContext) => Promise<JobOutcome>) =>
  withLockedJob(w.deps, invocation(60_500), { bucket: BUCKET, jobId: JOB }, 'event', (claim, existing) =>
    step({ claim, job: claim.open(existing ?? newManifest(JOB, BUCKET, SOURCE, claim.now())), deps: w.deps }),
  );

const atDeadline = (run: RunContext) => handOffAtDeadline(run, CHECKPOINT, RUN_ITERATIONS);

/** The keys written since `from` (the index in the write log), relative to the job's folder. */
const writtenSince = (w: MemoryWorker, from: number) =>
  w.s3
    .writes()
    .slice(from)
    .map((write) => write.key.replace(DIR, ''));

const manifestOf = (w: MemoryWorker) => jsonAt<JobManifest>(w.s3, `${DIR}job.json`);
const lockOf = (w: MemoryWorker) => jsonAt<LockRecord>(w.s3, `${DIR}lock.json`);

/** A Batch submission that notes the keys `worker()` wrote before it (from `from`), answering as Batch does. */
const batchSubmit = (worker: () => MemoryWorker, seen: string[][], from: number) =>
  vi.fn<NonNullable<Dispatcher['batch']>>(async () => {
    seen.push(writtenSince(worker(), from));
    return { jobId: BATCH_JOB_ID, jobQueue: BATCH_QUEUE };
  });

/** A worker with Batch configured, whose queue lets a job wait 24 h for capacity. */
const batchWorker = (dispatch: Dispatcher) =>
  memoryWorker({ env: { ...BATCH_ENV, NST_BATCH_RUNNABLE_TIMEOUT_SECONDS: '86400' }, dispatch });

describe('at the deadline, without Batch', () => {
  it('fails with JOB_TOO_LARGE at the continuation limit, before any checkpoint', async () => {
    const continuation = vi.fn<NonNullable<Dispatcher['continuation']>>(async () => {});
    const w = memoryWorker({ dispatch: { continuation } });
    expect(w.deps.config.maxContinuations).toBe(4);
    await running(w, 4);
    const error = {
      code: 'JOB_TOO_LARGE',
      message:
        'the job did not finish in 5 Lambda invocations: lower size or iterations, or configure the ' +
        'AWS Batch queue for large jobs',
    };
    expect(await claimed(w, atDeadline)).toEqual({ jobId: JOB, status: 'failed', error });
    expect(continuation).not.toHaveBeenCalled();
    expect(w.s3.keys(DIR)).toEqual([`${DIR}job.json`, `${DIR}lock.json`]);
    // The last run's 5 iterations count too, as they did before the lifecycle owned job.json.
    expect(manifestOf(w)).toMatchObject({ status: 'failed', error, continuations: 4, iterations: 4 + 5 });
    expect(manifestOf(w)).not.toHaveProperty('checkpoint');
    expect(w.notifier.sent).toEqual([expect.objectContaining({ jobId: JOB, status: 'failed', error })]);
    expect(lockOf(w)).toMatchObject({ state: 'done' });
  });

  it('checkpoints, writes job.json `queued`, then dispatches the continuation and hands it the lock', async () => {
    const seen: string[][] = [];
    const from = 1; // after running()'s job.json
    const continuation = vi.fn<NonNullable<Dispatcher['continuation']>>(async () => {
      seen.push(writtenSince(w, from));
    });
    const w: MemoryWorker = memoryWorker({ dispatch: { continuation } });
    await running(w, 3);

    expect(await claimed(w, atDeadline)).toEqual({
      jobId: JOB,
      status: 'queued',
      detail: 'continuation from scale 2, iteration 3',
    });
    // Each of the holder's writes is fenced by a renewal of the lock first.
    const beforeDispatch = [
      'lock.json',
      'lock.json',
      'checkpoints/1-3.png',
      'checkpoint.json',
      'lock.json',
      'job.json',
    ];
    expect(writtenSince(w, from)).toEqual([...beforeDispatch, 'lock.json']);
    expect(continuation.mock.calls).toEqual([[BUCKET, JOB]]);
    expect(seen).toEqual([beforeDispatch]);

    expect(jsonAt(w.s3, `${DIR}checkpoint.json`)).toEqual({
      jobId: JOB,
      scaleIndex: 1,
      iteration: 3,
      width: 4,
      height: 3,
      image: `${DIR}checkpoints/1-3.png`,
      savedAt: at(0),
    });
    expect(w.s3.object(`${DIR}checkpoints/1-3.png`)?.tags).toEqual({ 'nst-temporary': 'true' });
    const manifest = manifestOf(w)!;
    expect(manifest).toMatchObject({
      status: 'queued',
      runs: 1,
      continuations: 4,
      iterations: 4 + RUN_ITERATIONS,
      checkpoint: { scaleIndex: 1, iteration: 3, savedAt: at(0) },
    });
    expect(manifest.history.at(-1)).toEqual({
      status: 'queued',
      at: at(0),
      detail: 'deadline: continues in a new invocation from scale 2, iteration 3',
    });
    // The continuation alone may take the job, for CONTINUATION_HANDOFF_SECONDS.
    expect(lockOf(w)).toEqual({
      jobId: JOB,
      state: 'handoff',
      owner: 'req-1',
      leaseExpiresAt: at(120),
      to: 'continuation',
      updatedAt: at(0),
    });
    expect(w.notifier.sent).toEqual([]);
  });
});

describe('to AWS Batch', () => {
  it('at the deadline: checkpoints, submits before job.json is written, hands the lock to Batch', async () => {
    const seen: string[][] = [];
    const from = 1; // after running()'s job.json
    const continuation = vi.fn<NonNullable<Dispatcher['continuation']>>(async () => {});
    const w: MemoryWorker = batchWorker({ batch: batchSubmit(() => w, seen, from), continuation });
    // Batch has no continuation limit.
    await running(w, 4);

    expect(await claimed(w, atDeadline)).toEqual({
      jobId: JOB,
      status: 'queued',
      detail: `batch ${BATCH_JOB_ID}`,
    });
    const beforeSubmit = ['lock.json', 'lock.json', 'checkpoints/1-3.png', 'checkpoint.json'];
    expect(seen).toEqual([beforeSubmit]);
    expect(writtenSince(w, from)).toEqual([...beforeSubmit, 'lock.json', 'job.json', 'lock.json']);
    expect(w.deps.dispatch.batch).toHaveBeenCalledWith(BUCKET, JOB);
    expect(continuation).not.toHaveBeenCalled();

    const manifest = manifestOf(w)!;
    expect(manifest).toMatchObject({
      status: 'queued',
      continuations: 4,
      iterations: 4 + RUN_ITERATIONS,
      batch: { jobId: BATCH_JOB_ID, jobQueue: BATCH_QUEUE },
      checkpoint: { scaleIndex: 1, iteration: 3, savedAt: at(0) },
    });
    expect(manifest.history.at(-1)?.detail).toBe(
      `AWS Batch job ${BATCH_JOB_ID}: deadline at scale 2, iteration 3`,
    );
    // Batch alone may take the job while it may wait RUNNABLE (24 h) and start (10 min).
    expect(lockOf(w)).toEqual({
      jobId: JOB,
      state: 'handoff',
      owner: 'req-1',
      leaseExpiresAt: '2025-01-02T00:10:00.000Z',
      to: 'batch',
      updatedAt: at(0),
    });
  });

  it('routed there: a new job is submitted before its first job.json is written', async () => {
    const seen: string[][] = [];
    const w: MemoryWorker = batchWorker({ batch: batchSubmit(() => w, seen, 0) });
    const outcome = await claimed(w, (run) => handOffToBatch(run, 'estimated 2000 s, 840 s available here'));
    expect(outcome).toEqual({ jobId: JOB, status: 'queued', detail: `batch ${BATCH_JOB_ID}` });
    expect(seen).toEqual([['lock.json']]);
    expect(writtenSince(w, 0)).toEqual(['lock.json', 'lock.json', 'job.json', 'lock.json']);
    expect(manifestOf(w)).toMatchObject({
      status: 'queued',
      runs: 0,
      batch: { jobId: BATCH_JOB_ID, jobQueue: BATCH_QUEUE },
      history: [
        { status: 'queued', at: at(0), detail: `drop-in ${SOURCE.key}` },
        {
          status: 'queued',
          at: at(0),
          detail: `AWS Batch job ${BATCH_JOB_ID}: estimated 2000 s, 840 s available here`,
        },
      ],
    });
    expect(lockOf(w)).toMatchObject({
      state: 'handoff',
      to: 'batch',
      leaseExpiresAt: '2025-01-02T00:10:00.000Z',
    });
  });

  it('a failed submission leaves job.json as it was and releases the job for a retry', async () => {
    const failed = new NstError('DISPATCH_FAILED', `cannot submit the AWS Batch job for ${JOB}: throttled`);
    const submit = vi.fn<NonNullable<Dispatcher['batch']>>(async () => {
      throw failed;
    });
    const w = batchWorker({ batch: submit });
    await running(w, 0);
    const before = w.s3.object(`${DIR}job.json`)!;

    await expect(claimed(w, atDeadline)).rejects.toBe(failed);
    expect(submit).toHaveBeenCalledOnce();
    expect(w.s3.object(`${DIR}job.json`)).toEqual(before);
    // Released: anyone (the event's retry) may take the job at once.
    expect(lockOf(w)).toEqual({
      jobId: JOB,
      state: 'handoff',
      owner: 'req-1',
      leaseExpiresAt: at(0),
      updatedAt: at(0),
    });
    expect(w.notifier.sent).toEqual([]);
  });

  it('is an internal error where Batch is not configured', async () => {
    const w = memoryWorker();
    expect(await claimed(w, (run) => handOffToBatch(run, 'estimated 2000 s'))).toEqual({
      jobId: JOB,
      status: 'failed',
      error: { code: 'INTERNAL', message: 'a hand-off to AWS Batch, which is not configured' },
    });
  });
});
