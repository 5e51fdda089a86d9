/** The job lock's conditional writes against a real local S3 server (If-None-Match / If-Match on PutObject). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock, type Claimant, type LockRecord } from '../../../../src/jobs/lifecycle/lock.js';
import { PreconditionFailed } from '../../../../src/storage/object-store.js';
import { readJson, type S3Harness, startS3 } from '../../../helpers/local-s3.js';

const KEY = 'outputs/job-1/lock.json';
let h: S3Harness;

beforeEach(async () => {
  h = await startS3();
});
afterEach(async () => h.close());

const options = (owner: string, claimant: Claimant = 'event', leaseSeconds = 30) => ({
  jobId: 'job-1',
  key: KEY,
  owner,
  claimant,
  leaseSeconds,
});

describe('job lock', () => {
  it('one holder at a time; a finished job stays finished', async () => {
    const a = await acquireLock(h.store, options('a'));
    expect(a.acquired).toBe(true);
    expect(await acquireLock(h.store, options('b'))).toMatchObject({
      acquired: false,
      reason: 'running',
      record: { owner: 'a' },
    });
    if (!a.acquired) return;
    await a.lock.complete();
    expect(await acquireLock(h.store, options('c'))).toMatchObject({ acquired: false, reason: 'finished' });
    expect(await readJson<LockRecord>(h.store, KEY)).toMatchObject({ state: 'done', owner: 'a' });
  });

  it('concurrent claims: exactly one wins', async () => {
    const claims = await Promise.all(
      ['a', 'b', 'c', 'd'].map((owner) => acquireLock(h.store, options(owner))),
    );
    expect(claims.filter((c) => c.acquired)).toHaveLength(1);
  });

  it('an expired lease can be taken over, and the old holder then loses its writes', async () => {
    const a = await acquireLock(h.store, options('a', 'event', 0.2));
    if (!a.acquired) throw new Error('not acquired');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const b = await acquireLock(h.store, options('b'));
    expect(b.acquired).toBe(true);
    await expect(a.lock.complete()).rejects.toBeInstanceOf(PreconditionFailed);
    expect(await readJson<LockRecord>(h.store, KEY)).toMatchObject({ state: 'held', owner: 'b' });
  });

  it('a hand-off goes to its claimant only, until its lease runs out', async () => {
    const a = await acquireLock(h.store, options('a'));
    if (!a.acquired) throw new Error('not acquired');
    await a.lock.handOff('batch', 60);
    expect(await acquireLock(h.store, options('event-dup', 'event'))).toMatchObject({
      acquired: false,
      reason: 'handed-off',
    });
    expect(await acquireLock(h.store, options('cont', 'continuation'))).toMatchObject({
      acquired: false,
      reason: 'handed-off',
    });
    const worker = await acquireLock(h.store, options('batch-worker', 'batch'));
    if (!worker.acquired) throw new Error('the claimant could not take its hand-off');

    // A hand-off nobody claims in time is anyone's.
    await worker.lock.handOff('continuation', 0.3);
    expect(await acquireLock(h.store, options('event-dup', 'event'))).toMatchObject({
      acquired: false,
      reason: 'handed-off',
    });
    await new Promise((resolve) => setTimeout(resolve, 350));
    const late = await acquireLock(h.store, options('event-late', 'event'));
    if (!late.acquired) throw new Error('an expired hand-off was not taken over');

    // A release after a transient error lets anyone take over at once.
    await late.lock.handOff(undefined, 0);
    expect((await acquireLock(h.store, options('retry', 'event'))).acquired).toBe(true);
  });

  it('a continuation waits for its predecessor to hand over', async () => {
    const a = await acquireLock(h.store, options('a'));
    if (!a.acquired) throw new Error('not acquired');
    setTimeout(() => void a.lock.handOff('continuation', 60), 300);
    const started = Date.now();
    const next = await acquireLock(h.store, { ...options('next', 'continuation'), waitSeconds: 5 });
    expect(next.acquired).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('the heartbeat renews the lease, and reports a takeover', async () => {
    const a = await acquireLock(h.store, options('a', 'event', 0.6));
    if (!a.acquired) throw new Error('not acquired');
    const lost: string[] = [];
    a.lock.keepAlive((reason) => lost.push(reason.code));
    const before = (await readJson<LockRecord>(h.store, KEY)).leaseExpiresAt;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const renewed = await h.store.getJson<LockRecord>(KEY);
    expect(renewed!.value.leaseExpiresAt > before).toBe(true);
    expect(lost).toEqual([]);
    // Someone else overwrites the lock (as a takeover would): the next renewal notices.
    await h.store.putJson(KEY, { ...renewed!.value, owner: 'b' }, { ifMatch: renewed!.etag });
    await new Promise((resolve) => setTimeout(resolve, 400));
    a.lock.stop();
    expect(lost[0]).toBe('ABORTED');
  });

  it('fence() renews the lease while the lock is ours, and stops with ABORTED once it is not', async () => {
    const a = await acquireLock(h.store, options('a', 'event', 0.2));
    if (!a.acquired) throw new Error('not acquired');
    const lost: string[] = [];
    a.lock.keepAlive((reason) => lost.push(reason.code));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Lapsed, but nobody took it: the fence renews it, and nobody may take it for a full lease.
    await a.lock.fence();
    expect(Date.parse((await readJson<LockRecord>(h.store, KEY)).leaseExpiresAt)).toBeGreaterThan(Date.now());
    // Another worker overwrites the lock (a takeover after the lease lapsed).
    await h.store.putJson(KEY, {
      ...a.lock.state,
      owner: 'b',
      leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await expect(a.lock.fence()).rejects.toMatchObject({ code: 'ABORTED' });
    expect(lost).toContain('ABORTED');
    expect(await readJson<LockRecord>(h.store, KEY)).toMatchObject({ owner: 'b' });
    a.lock.stop();
    await expect(a.lock.fence()).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
