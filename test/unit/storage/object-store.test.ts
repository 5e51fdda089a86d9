/** The bucket as the pipeline sees it, against the real local S3 server: every answer classified. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectStore, PreconditionFailed } from '../../../src/storage/object-store.js';
import { type S3Harness, startS3 } from '../../helpers/local-s3.js';
import { failReads, s3Error } from '../../helpers/s3-faults.js';

let h: S3Harness;
beforeEach(async () => {
  h = await startS3();
});
afterEach(async () => h.close());

describe('read(): a job input, or why there is none', () => {
  it('finds the object: its bytes, ETag and metadata', async () => {
    const etag = await h.store.put('inputs/a.bin', Buffer.from('hello'), { metadata: { 'nst-size': '64' } });
    const read = await h.store.read('inputs/a.bin', { maxBytes: 5 });
    expect(read).toMatchObject({ status: 'found', object: { etag, metadata: { 'nst-size': '64' } } });
    expect(read.status === 'found' && read.object.body.toString()).toBe('hello');
  });

  it('answers a missing object as missing, and a lost precondition as PreconditionFailed', async () => {
    expect(await h.store.read('inputs/none.bin')).toEqual({ status: 'missing' });
    await h.store.put('inputs/a.bin', 'one');
    await expect(h.store.read('inputs/a.bin', { ifMatch: '"0000"' })).rejects.toBeInstanceOf(
      PreconditionFailed,
    );
  });

  it('refuses an object over maxBytes from its Content-Length, without its body', async () => {
    await h.store.put('inputs/big.bin', Buffer.alloc(64 * 1024, 1));
    expect(await h.store.read('inputs/big.bin', { maxBytes: 1000 })).toEqual({
      status: 'too-large',
      bytes: 64 * 1024,
    });
  });

  it('stops reading a body with no Content-Length once it holds more than maxBytes', async () => {
    await h.store.put('inputs/big.bin', Buffer.alloc(64 * 1024, 1));
    h.s3.client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        delete (out.output as { ContentLength?: number }).ContentLength;
        return out;
      },
      { step: 'initialize', name: 'dropContentLength' },
    );
    const read = await h.store.read('inputs/big.bin', { maxBytes: 1000 });
    expect(read.status).toBe('too-large');
    expect(read.status === 'too-large' && read.bytes).toBeGreaterThan(1000);
  });

  it('answers AccessDenied as denied, with S3 message; other 403s stay transient', async () => {
    await h.store.put('inputs/secret.bin', 'x');
    failReads(h.s3.client, (key) => key === 'inputs/secret.bin');
    expect(await h.store.read('inputs/secret.bin')).toEqual({ status: 'denied', reason: 'Access Denied' });
    failReads(
      h.s3.client,
      (key) => key === 'inputs/expired.bin',
      () => s3Error('ExpiredToken', 403, 'The provided token has expired.'),
    );
    await expect(h.store.read('inputs/expired.bin')).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      kind: 'transient',
    });
  });
});

describe("get(): the pipeline's own objects", () => {
  it('treats AccessDenied on them as transient (the deployment is wrong, or IAM is catching up)', async () => {
    failReads(h.s3.client, (key) => key.endsWith('lock.json'));
    await expect(h.store.get('outputs/j/lock.json')).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      kind: 'transient',
      message: expect.stringContaining('access denied'),
    });
    expect(await h.store.get('outputs/j/job.json')).toBeUndefined();
  });
});

describe('a key prefix: the layout in a shared bucket', () => {
  it('puts it on every request and takes it off every answer', async () => {
    const art = new ObjectStore(h.s3.client, h.store.bucket, 'art/');
    const etag = await art.put('outputs/j/job.json', '{}');
    await h.store.put('outputs/theirs/job.json', '{}');
    expect(await h.store.list('')).toEqual(['art/outputs/j/job.json', 'outputs/theirs/job.json']);
    expect(await art.list('outputs/')).toEqual(['outputs/j/job.json']);
    expect((await art.listObjects('outputs/'))[0]).toMatchObject({ key: 'outputs/j/job.json', etag });
    expect(await art.head('outputs/j/job.json')).toMatchObject({ etag });
    expect((await art.read('outputs/j/job.json')).status).toBe('found');
    expect(await art.get('outputs/theirs/job.json')).toBeUndefined();
    expect(art.objectKey('outputs/j/job.json')).toBe('art/outputs/j/job.json');
    expect(art.uri('outputs/j/job.json')).toBe(`s3://${h.store.bucket}/art/outputs/j/job.json`);
    await art.delete('outputs/j/job.json');
    expect(await h.store.list('')).toEqual(['outputs/theirs/job.json']);
  });
});
