/**
 * The claim's error policy over the in-memory S3: which failures end the job (recorded and notified), which
 * release it for the platform's retry, and that a duplicate delivery stops at the lock.
 */
import { describe, expect, it } from 'vitest';
import { NstError } from '../../../../src/errors.js';
import type { LockRecord } from '../../../../src/jobs/lifecycle/lock.js';
import { withLockedJob } from '../../../../src/jobs/lifecycle/locked-job.js';
import { BUCKET, claimedJobWorld, JOB_ID, KEYS } from '../../../helpers/claimed-job.js';

const lockOf = (w: ReturnType<typeof claimedJobWorld>) =>
  JSON.parse(w.s3.object(KEYS.lock)?.body.toString() ?? '{}') as LockRecord;

describe('the claim', () => {
  it('an input error ends the job: job.json failed, one notification, a normal return', async () => {
    const w = claimedJobWorld();
    const outcome = await w.run(async () => {
      throw new NstError('STYLE_NOT_FOUND', 'no styles/starry.*');
    });
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'STYLE_NOT_FOUND' } });
    expect(w.manifest()).toMatchObject({ status: 'failed', error: { message: 'no styles/starry.*' } });
    expect(w.notified).toHaveLength(1);
    expect(lockOf(w).state).toBe('done');
  });

  it('a transient error releases the job for a retry: rethrown, nothing recorded, the lock free at once', async () => {
    const w = claimedJobWorld();
    const error = new NstError('STORAGE_UNAVAILABLE', 'S3 is away');
    await expect(w.run(async () => Promise.reject(error))).rejects.toBe(error);
    expect(w.manifest()).toBeUndefined();
    expect(w.notified).toEqual([]);
    expect(lockOf(w)).toMatchObject({ state: 'handoff' });
    expect(lockOf(w).to).toBeUndefined();
    expect(Date.parse(lockOf(w).leaseExpiresAt)).toBeLessThanOrEqual(Date.now());
  });

  it('a progress write in flight lands before the lock is given up after a transient error', async () => {
    const w = claimedJobWorld();
    const progress = {
      scaleIndex: 0,
      scaleCount: 1,
      width: 8,
      height: 8,
      iteration: 1,
      scaleIterations: 4,
      done: 1,
      total: 4,
      terms: { content: 1, style: 2, tv: 0, total: 3 },
      elapsedSeconds: 1,
    };
    const run = w.run(async (job) => {
      await job.start('lambda run 1', { worker: 'lambda', engine: 'onnx', estimatedSeconds: 1 });
      job.progress(progress); // in flight when the error comes
      throw new NstError('STORAGE_UNAVAILABLE', 'S3 is away');
    });
    await expect(run).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    const keys = w.writtenKeys();
    expect(keys.lastIndexOf(KEYS.manifest)).toBeLessThan(keys.lastIndexOf(KEYS.lock));
    expect(w.manifest()?.progress).toMatchObject({ done: 1 });
    expect(lockOf(w).state).toBe('handoff');
  });

  it('an input error before the job is opened is retried: without job.json there is nothing to fail', async () => {
    const w = claimedJobWorld();
    const outcome = withLockedJob(
      w.deps,
      { owner: 'w' },
      { bucket: BUCKET, jobId: JOB_ID },
      'event',
      async () => {
        throw new NstError('INVALID_JOB_SPEC', 'bad');
      },
    );
    await expect(outcome).rejects.toMatchObject({ code: 'INVALID_JOB_SPEC' });
    expect(w.manifest()).toBeUndefined();
    expect(lockOf(w).state).toBe('handoff');
  });

  it('when recording the failure fails, the job is released for a retry, which records it', async () => {
    const w = claimedJobWorld();
    w.s3.failNext('PutObject', { key: KEYS.manifest });
    const fail = async () => {
      throw new NstError('IMAGE_CORRUPT', 'not a JPEG');
    };
    await expect(w.run(fail)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(w.notified).toEqual([]);
    expect(await w.run(fail, 'worker-2')).toMatchObject({
      status: 'failed',
      error: { code: 'IMAGE_CORRUPT' },
    });
    expect(w.notified).toHaveLength(1);
  });

  it('a duplicate delivery while the job runs, or after it finished, does not run it again', async () => {
    const w = claimedJobWorld();
    let duplicate: unknown;
    await w.run(async (job) => {
      duplicate = await w.run(async () => {
        throw new Error('must not run');
      }, 'worker-2');
      return job.fail(new NstError('IMAGE_CORRUPT', 'x'));
    });
    expect(duplicate).toEqual({ jobId: JOB_ID, status: 'skipped', detail: 'running' });
    const late = await w.run(async () => {
      throw new Error('must not run');
    }, 'worker-3');
    expect(late).toEqual({ jobId: JOB_ID, status: 'skipped', detail: 'finished' });
    expect(w.notified).toHaveLength(1);
  });

  it('skip gives the lock up at once and writes no job.json', async () => {
    const w = claimedJobWorld();
    const outcome = await withLockedJob(
      w.deps,
      { owner: 'w' },
      { bucket: BUCKET, jobId: JOB_ID },
      'batch',
      (claim) => claim.skip('no job.json'),
    );
    expect(outcome).toEqual({ jobId: JOB_ID, status: 'skipped', detail: 'no job.json' });
    expect(w.manifest()).toBeUndefined();
    expect(lockOf(w).state).toBe('handoff');
  });
});
