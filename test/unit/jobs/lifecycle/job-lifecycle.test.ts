/**
 * The lifecycle's transitions over the in-memory S3: what each writes, in which order, and what it never
 * writes (progress after the end, anything once the lock is lost).
 */
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../../../src/engine/stylize.js';
import { NstError } from '../../../../src/errors.js';
import { CONTINUATION_HANDOFF_SECONDS } from '../../../../src/jobs/deployment.js';
import type { RunResult } from '../../../../src/jobs/lifecycle/job-lifecycle.js';
import type { LockRecord } from '../../../../src/jobs/lifecycle/lock.js';
import { BUCKET, type ClaimedJobWorld, claimedJobWorld, JOB_ID, KEYS } from '../../../helpers/claimed-job.js';

const ROUTE = { worker: 'lambda', engine: 'onnx', estimatedSeconds: 12 } as const;

const progressAt = (done: number, total = 4): Progress => ({
  scaleIndex: 0,
  scaleCount: 1,
  width: 8,
  height: 8,
  iteration: done,
  scaleIterations: total,
  done,
  total,
  terms: { content: 1, style: 2, tv: 0, total: 3 },
  elapsedSeconds: done,
});

const result = (iterations = 4): RunResult => ({
  key: KEYS.result('jpeg'),
  body: Buffer.from('stylised'),
  contentType: 'image/jpeg',
  width: 8,
  height: 8,
  engine: { kind: 'onnx', backend: 'onnx-cpu' },
  iterations,
  seconds: 1.5,
  losses: {
    initial: { content: 0, style: 9, tv: 0, total: 9 },
    final: { content: 1, style: 2, tv: 0, total: 3 },
  },
});

describe('the job lifecycle', () => {
  it('succeed: the result, then job.json, then the notification, then the lock done', async () => {
    const w = claimedJobWorld();
    const outcome = await w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      return job.succeed(result());
    });
    expect(outcome).toEqual({ jobId: JOB_ID, status: 'succeeded', detail: KEYS.result('jpeg') });
    const lastWrites = w.writtenKeys().filter((k) => k !== KEYS.lock);
    expect(lastWrites).toEqual([KEYS.manifest, KEYS.result('jpeg'), KEYS.manifest]);
    // The notification came after the last job.json write, and only the lock's `done` after it.
    const [{ notification, afterWrites }] = w.notified;
    expect(w.writtenKeys().slice(afterWrites)).toEqual([KEYS.lock]);
    expect(notification).toMatchObject({
      jobId: JOB_ID,
      status: 'succeeded',
      output: { uri: `s3://${BUCKET}/${KEYS.result('jpeg')}`, key: KEYS.result('jpeg'), width: 8, bytes: 8 },
      route: ROUTE,
      engine: { kind: 'onnx', backend: 'onnx-cpu' },
    });
    expect(JSON.parse(w.s3.object(KEYS.lock)?.body.toString() ?? '{}')).toMatchObject({ state: 'done' });
    const m = w.manifest();
    expect(m).toMatchObject({
      status: 'succeeded',
      runs: 1,
      route: ROUTE,
      output: { key: KEYS.result('jpeg'), width: 8, height: 8, bytes: 8 },
      engine: { kind: 'onnx', backend: 'onnx-cpu' },
      iterations: 4,
    });
    expect(m?.history.map((h) => h.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(w.metrics.succeeded).toEqual([4]);
  });

  it('progress is written while running, lands before the final write, and never after it', async () => {
    const w = claimedJobWorld();
    await w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      job.progress(progressAt(1));
      job.progress(progressAt(2)); // while the first write is in flight: kept, not written yet
      const outcome = await job.succeed(result());
      job.progress(progressAt(3)); // after the end: ignored
      return outcome;
    });
    const manifestWrites = w.writtenKeys().filter((k) => k === KEYS.manifest);
    expect(manifestWrites).toHaveLength(3); // running, the progress at 1, succeeded
    const m = w.manifest();
    // The latest progress (2, never written by itself) is kept, completed, in the final job.json.
    expect(m?.status).toBe('succeeded');
    expect(m?.progress).toMatchObject({ done: 2, total: 4, percent: 100, etaSeconds: 0 });
  });

  it('fail: a result written before is removed, then job.json failed, then the notification', async () => {
    const w = claimedJobWorld();
    await w.store.put(KEYS.result('png'), Buffer.from('left by a dead worker'));
    const outcome = await w.run(async (job) => job.fail(new NstError('INVALID_JOB_SPEC', 'no content')));
    expect(outcome).toEqual({
      jobId: JOB_ID,
      status: 'failed',
      error: { code: 'INVALID_JOB_SPEC', message: 'no content' },
    });
    expect(w.s3.keys('outputs/').filter((k) => k.includes('/result.'))).toEqual([]);
    const order = w.writtenKeys().filter((k) => k !== KEYS.lock);
    expect(order).toEqual([KEYS.result('png'), KEYS.result('png'), KEYS.manifest]); // put, delete, job.json
    expect(w.manifest()).toMatchObject({ status: 'failed', error: { code: 'INVALID_JOB_SPEC' } });
    expect(w.notified.map((n) => n.notification.status)).toEqual(['failed']);
    expect(w.metrics.failed).toEqual(['INVALID_JOB_SPEC']);
  });

  it('a hand-off to Batch submits first, then writes job.json queued, then hands the lock to Batch', async () => {
    const w = claimedJobWorld();
    let writesAtSubmit = -1;
    const outcome = await w.run(async (job) =>
      job.handOffToBatch(
        'too large here',
        async () => {
          writesAtSubmit = w.writtenKeys().length;
          return { jobId: 'batch-1', jobQueue: 'queue' };
        },
        7200,
      ),
    );
    expect(outcome).toEqual({ jobId: JOB_ID, status: 'queued', detail: 'batch batch-1' });
    expect(w.writtenKeys().slice(0, writesAtSubmit)).not.toContain(KEYS.manifest);
    expect(w.manifest()).toMatchObject({ status: 'queued', batch: { jobId: 'batch-1', jobQueue: 'queue' } });
    const lock = JSON.parse(w.s3.object(KEYS.lock)?.body.toString() ?? '{}') as LockRecord;
    expect(lock).toMatchObject({ state: 'handoff', to: 'batch' });
    expect(Date.parse(lock.leaseExpiresAt) - Date.parse(lock.updatedAt)).toBe(7200 * 1000);
    expect(w.notified).toEqual([]);
  });

  it('a hand-off to a continuation writes job.json queued, dispatches, then hands the lock on', async () => {
    const w = claimedJobWorld();
    let queuedBeforeDispatch = false;
    await w.run(async (job) =>
      job.handOffToContinuation(
        'deadline',
        async () => {
          queuedBeforeDispatch = w.manifest()?.status === 'queued';
        },
        'continues',
      ),
    );
    expect(queuedBeforeDispatch).toBe(true);
    expect(w.manifest()).toMatchObject({ status: 'queued', continuations: 1 });
    const lock = JSON.parse(w.s3.object(KEYS.lock)?.body.toString() ?? '{}') as LockRecord;
    expect(lock).toMatchObject({ state: 'handoff', to: 'continuation' });
    expect(Date.parse(lock.leaseExpiresAt) - Date.parse(lock.updatedAt)).toBe(
      CONTINUATION_HANDOFF_SECONDS * 1000,
    );
  });

  it('a stopped run notes its checkpoint and iterations, written with the next transition', async () => {
    const w = claimedJobWorld();
    const savedAt = new Date('2026-01-01T00:00:00Z');
    await w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      job.stopped(17);
      job.checkpointed({ scaleIndex: 1, iteration: 7 }, savedAt);
      expect(w.manifest()?.checkpoint).toBeUndefined();
      return job.handOffToContinuation('deadline', async () => {}, 'continues');
    });
    expect(w.manifest()).toMatchObject({
      checkpoint: { scaleIndex: 1, iteration: 7, savedAt: savedAt.toISOString() },
      iterations: 17,
    });
  });

  it('a worker whose lock was taken over writes nothing more', async () => {
    const w = claimedJobWorld();
    const outcome = await w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      // Another worker takes the job over (its lease lapsed): the lock is no longer this worker's.
      await w.store.putJson(KEYS.lock, { jobId: JOB_ID, state: 'held', owner: 'worker-2' });
      return job.succeed(result());
    });
    expect(outcome).toEqual({ jobId: JOB_ID, status: 'skipped', detail: 'lock lost' });
    expect(w.s3.object(KEYS.result('jpeg'))).toBeUndefined();
    expect(w.manifest()?.status).toBe('running');
    expect(w.notified).toEqual([]);
  });

  it('a finished job whose lock was not marked done is closed by the next delivery, which notifies again', async () => {
    const sent: string[] = [];
    const w: ClaimedJobWorld = claimedJobWorld({
      notifier: {
        started: async () => {},
        finished: async (n) => {
          sent.push(n.status);
          // The lock's `done` write, the next write after the first notification, fails.
          if (sent.length === 1) w.s3.failNext('PutObject', { key: KEYS.lock });
        },
      },
    });
    const first = w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      return job.succeed(result());
    });
    await expect(first).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(w.manifest()?.status).toBe('succeeded');
    // Released after the failure: the retry finds the job finished and only closes it.
    const again = await w.run(async () => {
      throw new Error('the body does not run for a finished job');
    }, 'worker-2');
    expect(again).toEqual({ jobId: JOB_ID, status: 'skipped', detail: 'finished' });
    expect(sent).toEqual(['succeeded', 'succeeded']);
    expect(JSON.parse(w.s3.object(KEYS.lock)?.body.toString() ?? '{}')).toMatchObject({ state: 'done' });
    expect(w.manifest()?.history.map((h) => h.status)).toEqual(['queued', 'running', 'succeeded']);
  });

  it("the job's first run is told before job.json says running; later runs are not told", async () => {
    const w = claimedJobWorld();
    const first = w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      throw new NstError('STORAGE_UNAVAILABLE', 'S3 is down'); // released, for the retry to run again
    });
    await expect(first).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(w.started).toHaveLength(1);
    const [{ notification, afterWrites }] = w.started;
    // Told before job.json was first written (it says running), not after.
    expect(w.writtenKeys().slice(0, afterWrites)).not.toContain(KEYS.manifest);
    expect(w.writtenKeys().slice(afterWrites)).toContain(KEYS.manifest);
    expect(notification).toMatchObject({ jobId: JOB_ID, status: 'running', route: ROUTE });
    expect(notification).not.toHaveProperty('output');
    expect(notification.timings.startedAt).toBe(w.manifest()?.timings.startedAt);

    await w.run(async (job) => {
      await job.start('lambda run 2', ROUTE);
      return job.succeed(result());
    }, 'worker-2');
    expect(w.started).toHaveLength(1);
    expect(w.manifest()).toMatchObject({ status: 'succeeded', runs: 2 });
  });

  it('a start whose telling fails leaves job.json as it was, so the retry tells it', async () => {
    let failures = 1;
    const told: string[] = [];
    const w = claimedJobWorld({
      notifier: {
        started: async (n) => {
          if (failures-- > 0) throw new NstError('NOTIFICATION_FAILED', 'EventBridge is unavailable');
          told.push(n.status);
        },
        finished: async () => {},
      },
    });
    const first = w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      return job.succeed(result());
    });
    await expect(first).rejects.toMatchObject({ code: 'NOTIFICATION_FAILED' });
    // This world's new job has no job.json until its first transition: none was written.
    expect(w.manifest()).toBeUndefined();
    await w.run(async (job) => {
      await job.start('lambda run 1', ROUTE);
      return job.succeed(result());
    }, 'worker-2');
    expect(told).toEqual(['running']);
    expect(w.manifest()).toMatchObject({ status: 'succeeded', runs: 1 });
  });

  it('opens once per claim', async () => {
    const w = claimedJobWorld();
    const outcome = await w.run(async (job, claim) => {
      claim.open(job.manifest);
      return { status: 'succeeded' };
    });
    // INTERNAL is not retried: the job fails, recorded and notified.
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } });
  });
});
