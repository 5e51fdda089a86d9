/** The local S3 server's conditional writes, which the job lock relies on, behave like S3's. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PreconditionFailed } from '../../../src/storage/object-store.js';
import { type S3Harness, startS3 } from '../../helpers/local-s3.js';

let h: S3Harness;

beforeEach(async () => {
  h = await startS3();
});
afterEach(async () => h.close());

describe('the local S3 server honours conditional writes like S3', () => {
  it('If-None-Match: * creates once; If-Match replaces only the version it names', async () => {
    const first = await h.store.put('k', 'a', { ifNoneMatch: '*' });
    await expect(h.store.put('k', 'b', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailed);
    const second = await h.store.put('k', 'c', { ifMatch: first });
    await expect(h.store.put('k', 'd', { ifMatch: first })).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(h.store.get('k', { ifMatch: first })).rejects.toBeInstanceOf(PreconditionFailed);
    expect((await h.store.get('k', { ifMatch: second }))!.body.toString()).toBe('c');
  });

  it('exactly one of many concurrent creators wins', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => h.store.put('race', String(i), { ifNoneMatch: '*' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof PreconditionFailed),
    ).toBe(true);
  });
});
