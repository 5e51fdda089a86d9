/**
 * The in-memory S3 stand-in (test/helpers/memory-s3.ts) against the real local S3 server: the same
 * behaviours through ObjectStore, and the raw answers ObjectStore classifies, on both, so unit tests on the
 * stand-in stand for the server. Then the server's known gap (its listing order), and what only the
 * stand-in has (its inspection, call log and injected faults).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectStore, PreconditionFailed } from '../../../src/storage/object-store.js';
import { BUCKET, startS3 } from '../../helpers/local-s3.js';
import {
  type FailOptions,
  type MemoryObject,
  type MemoryS3,
  type MemoryS3Call,
  type MemoryS3Command,
  type MemoryS3Options,
  type MemoryS3Write,
  memoryS3,
} from '../../helpers/memory-s3.js';
import { s3Error } from '../../helpers/s3-faults.js';

interface Bucket {
  readonly store: ObjectStore;
  readonly client: S3Client;
  close(): Promise<void>;
}

interface Backend {
  readonly name: string;
  /** A fresh, empty bucket whose listings answer at most `pageSize` keys a page. */
  start(pageSize?: number): Promise<Bucket>;
}

const backends: Backend[] = [
  {
    name: 'the local S3 server',
    async start(pageSize) {
      const h = await startS3();
      if (pageSize) smallPages(h.s3.client, pageSize);
      return { store: h.store, client: h.s3.client, close: () => h.close() };
    },
  },
  {
    name: 'memoryS3',
    async start(pageSize) {
      const s3 = memoryS3({ maxKeys: pageSize });
      return { store: new ObjectStore(s3.client, BUCKET), client: s3.client, close: async () => {} };
    },
  },
];

/** ObjectStore sends no MaxKeys: ask the real server for small pages, to reach the paging code. */
function smallPages(client: S3Client, pageSize: number): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListObjectsV2Command')
        (args.input as { MaxKeys?: number }).MaxKeys = pageSize;
      return next(args);
    },
    { step: 'initialize', name: 'nstSmallPages' },
  );
}

const md5 = (body: string | Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;

/** What a raw request threw, as ObjectStore sees it. */
async function failure(request: Promise<unknown>) {
  const e = await request.then(
    () => undefined,
    (error: unknown) => error as { name: string; $metadata?: { httpStatusCode?: number } },
  );
  return { name: e?.name, status: e?.$metadata?.httpStatusCode, error: e };
}

describe.each(backends)('ObjectStore on $name', (backend) => {
  let b: Bucket;
  let store: ObjectStore;
  beforeEach(async () => {
    b = await backend.start();
    store = b.store;
  });
  afterEach(async () => b.close());

  it('puts and gets an object: its bytes, MD5 ETag, lower-cased metadata and content type', async () => {
    const etag = await store.put('inputs/a.bin', Buffer.from('hello'), { metadata: { 'Nst-Size': '64' } });
    expect(etag).toBe(md5('hello'));
    const object = await store.get('inputs/a.bin');
    expect(object).toEqual({
      body: Buffer.from('hello'),
      etag,
      metadata: { 'nst-size': '64' },
      contentType: 'application/octet-stream',
    });
    await store.putJson('outputs/j/job.json', { state: 'queued' });
    expect(await store.getJson('outputs/j/job.json')).toEqual({
      value: { state: 'queued' },
      etag: md5(`${JSON.stringify({ state: 'queued' }, null, 2)}\n`),
    });
    expect((await store.get('outputs/j/job.json'))?.contentType).toBe('application/json');
  });

  it('stores a string, a Buffer, a Uint8Array and an empty body as their bytes', async () => {
    await store.put('a/string', 'héllo');
    await store.put('a/buffer', Buffer.from([0, 255, 1]));
    await b.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'a/u8', Body: new Uint8Array([7, 8, 9]).subarray(1) }),
    );
    expect(await store.put('a/empty', Buffer.alloc(0))).toBe(md5(''));
    expect((await store.get('a/string'))?.body.toString('utf8')).toBe('héllo');
    expect((await store.get('a/buffer'))?.body).toEqual(Buffer.from([0, 255, 1]));
    expect((await store.get('a/u8'))?.body).toEqual(Buffer.from([8, 9]));
    expect((await store.get('a/empty'))?.body).toEqual(Buffer.alloc(0));
  });

  it('heads an object without its body, deletes it, and deletes a missing one without complaint', async () => {
    const etag = await store.put('outputs/j/lock.json', '{}', { metadata: { 'nst-job-id': 'j' } });
    expect(await store.head('outputs/j/lock.json')).toEqual({ etag, metadata: { 'nst-job-id': 'j' } });
    await store.delete('outputs/j/lock.json');
    expect(await store.head('outputs/j/lock.json')).toBeUndefined();
    expect(await store.get('outputs/j/lock.json')).toBeUndefined();
    await expect(store.delete('outputs/j/lock.json')).resolves.toBeUndefined();
  });

  it('answers missing objects as missing, also with a version to match', async () => {
    expect(await store.get('inputs/none.bin')).toBeUndefined();
    expect(await store.read('inputs/none.bin')).toEqual({ status: 'missing' });
    expect(await store.read('inputs/none.bin', { ifMatch: md5('x') })).toEqual({ status: 'missing' });
    expect(await store.getJson('inputs/none.json')).toBeUndefined();
  });

  it('lists the keys under a prefix in S3 order, with their size, ETag and time', async () => {
    // No key here is the start of another: there the server's order is not S3's (see the known gaps).
    const keys = ['a/b', 'a/B', 'a/a1', 'a/c/d', 'a/ä', 'a/~', 'b/a', 'c'];
    for (const key of keys) await store.put(key, key);
    expect(await store.list('a/')).toEqual(['a/B', 'a/a1', 'a/b', 'a/c/d', 'a/~', 'a/ä']);
    expect(await store.list('a/c')).toEqual(['a/c/d']);
    expect(await store.list('d/')).toEqual([]);
    expect(await store.list('')).toEqual([...(await store.list('a/')), 'b/a', 'c']);
    const [listed] = await store.listObjects('a/c/');
    expect(listed).toEqual({ key: 'a/c/d', etag: md5('a/c/d'), size: 5, lastModified: expect.any(Date) });
    expect(Math.abs(listed.lastModified.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('creates once with If-None-Match: a second create is PreconditionFailed and changes nothing', async () => {
    const etag = await store.put('outputs/j/lock.json', 'first', { ifNoneMatch: '*' });
    await expect(store.put('outputs/j/lock.json', 'second', { ifNoneMatch: '*' })).rejects.toEqual(
      new PreconditionFailed('outputs/j/lock.json'),
    );
    expect(await store.get('outputs/j/lock.json')).toMatchObject({ body: Buffer.from('first'), etag });
  });

  it('compares and swaps with If-Match: the current ETag (quoted or bare) wins, a stale one fails', async () => {
    const first = await store.put('outputs/j/lock.json', 'v1');
    const second = await store.put('outputs/j/lock.json', 'v2', { ifMatch: first });
    const third = await store.put('outputs/j/lock.json', 'v3', { ifMatch: second.replace(/"/g, '') });
    await expect(store.put('outputs/j/lock.json', 'v4', { ifMatch: first })).rejects.toBeInstanceOf(
      PreconditionFailed,
    );
    expect(await store.get('outputs/j/lock.json')).toMatchObject({ body: Buffer.from('v3'), etag: third });
    // The same bytes again have the same ETag, as on S3: a swap from it still succeeds.
    await store.put('outputs/j/lock.json', 'v3');
    await expect(store.put('outputs/j/lock.json', 'v5', { ifMatch: third })).resolves.toBe(md5('v5'));
  });

  it('reads only the version asked for: another ETag is PreconditionFailed', async () => {
    const etag = await store.put('inputs/a.bin', 'one');
    expect(await store.read('inputs/a.bin', { ifMatch: etag })).toMatchObject({ status: 'found' });
    await store.put('inputs/a.bin', 'two');
    await expect(store.read('inputs/a.bin', { ifMatch: etag })).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(store.get('inputs/a.bin', { ifMatch: etag.slice(1, -1) })).rejects.toBeInstanceOf(
      PreconditionFailed,
    );
  });

  it('refuses an object over maxBytes and reads one at the limit', async () => {
    await store.put('inputs/big.bin', Buffer.alloc(4096, 1));
    expect(await store.read('inputs/big.bin', { maxBytes: 4095 })).toEqual({
      status: 'too-large',
      bytes: 4096,
    });
    const read = await store.read('inputs/big.bin', { maxBytes: 4096 });
    expect(read.status === 'found' && read.object.body).toEqual(Buffer.alloc(4096, 1));
  });

  it('answers raw requests with the errors ObjectStore classifies: NoSuchKey, NotFound, PreconditionFailed', async () => {
    const get = await failure(b.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'none' })));
    expect(get).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(get.error).toBeInstanceOf(NoSuchKey);
    const head = await failure(b.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'none' })));
    expect(head).toMatchObject({ name: 'NotFound', status: 404 });
    expect(head.error).toBeInstanceOf(NotFound);
    await store.put('lock', 'x');
    const create = b.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'lock', Body: 'y', IfNoneMatch: '*' }),
    );
    expect(await failure(create)).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    const swap = b.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'lock', Body: 'y', IfMatch: md5('y') }),
    );
    expect(await failure(swap)).toMatchObject({ name: 'PreconditionFailed', status: 412 });
    const read = b.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lock', IfMatch: md5('y') }));
    expect(await failure(read)).toMatchObject({ name: 'PreconditionFailed', status: 412 });
  });

  it('answers a swap of a missing object 404 NoSuchKey (as S3 does), not 412, and writes nothing', async () => {
    const swap = b.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'gone', Body: 'y', IfMatch: md5('x') }),
    );
    expect(await failure(swap)).toMatchObject({ name: 'NoSuchKey', status: 404 });
    await expect(store.put('gone', 'y', { ifMatch: md5('x') })).rejects.not.toBeInstanceOf(
      PreconditionFailed,
    );
    expect(await store.head('gone')).toBeUndefined();
  });
});

// Paging (the local server pages V2 listings through src/storage/local-s3-listing.ts).
describe.each(backends)('ObjectStore on $name, listing in pages', (backend) => {
  it('lists across pages: every key once, in order', async () => {
    const paged = await backend.start(2);
    try {
      const keys = ['jobs/1', 'jobs/2', 'jobs/3', 'jobs/4', 'jobs/5'];
      for (const key of [...keys].reverse()) await paged.store.put(key, key);
      await paged.store.put('other', 'x');
      expect(await paged.store.list('jobs/')).toEqual(keys);
      expect(await paged.store.list('jobs/4')).toEqual(['jobs/4']);
      const raw = await paged.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'jobs/' }));
      expect(raw).toMatchObject({
        IsTruncated: true,
        KeyCount: 2,
        NextContinuationToken: expect.any(String),
      });
      expect(raw.Contents?.map((o) => o.Key)).toEqual(['jobs/1', 'jobs/2']);
    } finally {
      await paged.close();
    }
  });
});

describe('the local S3 server: known gaps', () => {
  // S3 lists keys in UTF-8 binary order; s3rver lists its folder tree, where the object of key `a` is a file
  // `a._S3rver_object` next to a folder `a/`. When this test fails the server orders keys as S3 does: list
  // such keys in the shared test above.
  it("orders a key after the longer keys it starts, unlike S3's byte order", async () => {
    const b = await backends[0].start();
    try {
      for (const key of ['k/a', 'k/a-1', 'k/a/1']) await b.store.put(key, key);
      expect(await b.store.list('k/')).toEqual(['k/a/1', 'k/a-1', 'k/a']);
    } finally {
      await b.close();
    }
  });
});

describe('memoryS3 only', () => {
  let s3: MemoryS3;
  let store: ObjectStore;
  beforeEach(() => {
    s3 = memoryS3();
    store = new ObjectStore(s3.client, BUCKET);
  });

  it('shows what was written: objects, keys, one object, its tags; as copies', async () => {
    await store.put('outputs/j/frame-1.png', 'png', { temporary: true, contentType: 'image/png' });
    await store.putJson('outputs/j/job.json', { ok: true });
    expect(s3.keys()).toEqual(['outputs/j/frame-1.png', 'outputs/j/job.json']);
    expect(s3.keys('outputs/j/job')).toEqual(['outputs/j/job.json']);
    const frame: MemoryObject | undefined = s3.object('outputs/j/frame-1.png');
    expect(frame).toMatchObject({
      bucket: BUCKET,
      body: Buffer.from('png'),
      etag: md5('png'),
      contentType: 'image/png',
      tags: { 'nst-temporary': 'true' },
      size: 3,
    });
    expect(s3.objects().map((o) => o.key)).toEqual(s3.keys());
    expect(s3.objects('another-bucket')).toEqual([]);
    frame!.body.fill(0);
    expect((await store.get('outputs/j/frame-1.png'))?.body.toString()).toBe('png');
  });

  it('keeps buckets apart', async () => {
    const other = new ObjectStore(s3.client, 'other');
    await store.put('k', 'mine');
    await other.put('k', 'theirs');
    expect(await other.list('')).toEqual(['k']);
    expect(s3.object('k', 'other')?.body.toString()).toBe('theirs');
    expect(() => s3.object('k')).toThrow(/name one/);
    expect(s3.objects().map((o) => `${o.bucket}/${o.key}`)).toEqual(['nst-test/k', 'other/k']);
  });

  it('logs every request and the writes that took effect, in order', async () => {
    await store.put('outputs/j/result.png', 'png');
    await expect(store.put('outputs/j/result.png', 'again', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      PreconditionFailed,
    );
    await store.get('outputs/j/none');
    await store.putJson('outputs/j/job.json', {});
    await store.delete('inputs/j.json');
    await store.list('outputs/');
    const writes: MemoryS3Write[] = s3.writes();
    expect(writes).toEqual([
      { command: 'PutObject', bucket: BUCKET, key: 'outputs/j/result.png' },
      { command: 'PutObject', bucket: BUCKET, key: 'outputs/j/job.json' },
      { command: 'DeleteObject', bucket: BUCKET, key: 'inputs/j.json' },
    ]);
    const calls: MemoryS3Call[] = s3.calls();
    expect(calls.map((c) => [c.command, c.key, c.error])).toEqual([
      ['PutObject', 'outputs/j/result.png', undefined],
      ['PutObject', 'outputs/j/result.png', 'PreconditionFailed'],
      ['GetObject', 'outputs/j/none', 'NoSuchKey'],
      ['PutObject', 'outputs/j/job.json', undefined],
      ['DeleteObject', 'inputs/j.json', undefined],
      ['ListObjectsV2', 'outputs/', undefined],
    ]);
  });

  it('fails the next requests of a command as asked: a 503 by default, then answers again', async () => {
    await store.put('outputs/j/job.json', '{}');
    s3.failNext('GetObject', { times: 2 });
    for (let i = 0; i < 2; i++)
      await expect(store.get('outputs/j/job.json')).rejects.toMatchObject({
        code: 'STORAGE_UNAVAILABLE',
        kind: 'transient',
        cause: { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } },
      });
    expect((await store.get('outputs/j/job.json'))?.body.toString()).toBe('{}');
    expect(s3.calls().map((c) => c.error)).toEqual([
      undefined,
      'ServiceUnavailable',
      'ServiceUnavailable',
      undefined,
    ]);
  });

  it('fails only the matching keys, with the error given, before or after the write lands', async () => {
    const throttled: FailOptions = {
      key: /\.png$/,
      error: () => s3Error('SlowDown', 503, 'Please reduce your request rate.'),
    };
    const command: MemoryS3Command = 'PutObject';
    s3.failNext(command, throttled);
    await store.put('outputs/j/job.json', '{}');
    await expect(store.put('outputs/j/result.png', 'png')).rejects.toMatchObject({
      cause: { name: 'SlowDown' },
    });
    expect(s3.keys()).toEqual(['outputs/j/job.json']);
    // The answer is lost, the write is not: a retry must cope with its own earlier write.
    s3.failNext('PutObject', { key: 'outputs/j/lock.json', after: true });
    await expect(store.put('outputs/j/lock.json', 'a', { ifNoneMatch: '*' })).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    expect(s3.object('outputs/j/lock.json')?.body.toString()).toBe('a');
    expect(s3.writes().map((w) => w.key)).toEqual(['outputs/j/job.json', 'outputs/j/lock.json']);
    await expect(store.put('outputs/j/lock.json', 'a', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      PreconditionFailed,
    );
    s3.failNext('ListObjectsV2', { key: (prefix) => prefix.startsWith('jobs/') });
    expect(await store.list('outputs/')).toHaveLength(2);
    await expect(store.list('jobs/')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });

  it('stamps each write with the clock given', async () => {
    let now = Date.UTC(2026, 0, 1);
    const options: MemoryS3Options = { now: () => now };
    const timed = memoryS3(options);
    const timedStore = new ObjectStore(timed.client, BUCKET);
    await timedStore.put('a', '1');
    now += 90_000;
    await timedStore.put('b', '2');
    expect((await timedStore.listObjects('')).map((o) => o.lastModified.toISOString())).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:01:30.000Z',
    ]);
    const head = await timed.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'b' }));
    expect(head.LastModified).toEqual(new Date(now));
  });

  it('lists keys in S3 (UTF-8 byte) order, also where one key starts another', async () => {
    for (const key of ['k/a/1', 'k/a', 'k/😀', 'k/a-1', 'k/\uffff']) await store.put(key, key);
    // JavaScript's sort puts U+FFFF after the emoji (a surrogate pair); UTF-8 puts it before.
    expect(await store.list('k/')).toEqual(['k/a', 'k/a-1', 'k/a/1', 'k/\uffff', 'k/😀']);
  });

  it('pages raw listings with MaxKeys, StartAfter and its own tokens; refuses a foreign token', async () => {
    for (const key of ['a', 'b', 'c']) await store.put(key, key);
    const list = (input: { MaxKeys?: number; StartAfter?: string; ContinuationToken?: string }) =>
      s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, ...input }));
    const first = await list({ MaxKeys: 2 });
    expect(first).toMatchObject({ KeyCount: 2, IsTruncated: true, MaxKeys: 2 });
    const second = await list({ MaxKeys: 2, ContinuationToken: first.NextContinuationToken });
    expect(second.Contents?.map((o) => o.Key)).toEqual(['c']);
    expect(second.IsTruncated).toBe(false);
    expect(second.NextContinuationToken).toBeUndefined();
    expect((await list({ StartAfter: 'a' })).Contents?.map((o) => o.Key)).toEqual(['b', 'c']);
    const none = await list({ MaxKeys: 0 });
    expect(none).toMatchObject({ KeyCount: 0, IsTruncated: false });
    expect(none.Contents).toBeUndefined();
    expect(await failure(list({ ContinuationToken: 'bm9wZQ==' }))).toMatchObject({
      name: 'InvalidArgument',
      status: 400,
    });
  });

  it('takes a stream as a body and answers one with the SDK helpers', async () => {
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'k', Body: Readable.from([Buffer.from('he'), 'llo']) }),
    );
    const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }));
    expect(out).toMatchObject({ ContentLength: 5, ETag: md5('hello') });
    expect(await out.Body?.transformToString()).toBe('hello');
  });

  it('refuses requests it does not model instead of ignoring them', async () => {
    await store.put('k', 'hello');
    await expect(
      s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k', Range: 'bytes=0-1' })),
    ).rejects.toThrow("memoryS3 does not model GetObject's Range");
    await expect(
      s3.client.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'k2', CopySource: `${BUCKET}/k` })),
    ).rejects.toThrow('memoryS3 does not answer CopyObjectCommand');
    expect(() => memoryS3({ maxKeys: 0 })).toThrow(RangeError);
    expect(() => s3.failNext('GetObject', { times: 0 })).toThrow(RangeError);
  });
});

describe('the local S3 server: V2 listings in pages', () => {
  it('answers start-after and its own tokens, and refuses a token it did not make', async () => {
    const b = await backends[0].start(2);
    try {
      for (const key of ['k/1', 'k/2', 'k/3', 'k/4', 'k/5']) await b.store.put(key, key);
      const first = await b.client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'k/', StartAfter: 'k/1' }),
      );
      expect(first).toMatchObject({ StartAfter: 'k/1', KeyCount: 2, IsTruncated: true });
      expect(first.Contents?.map((o) => o.Key)).toEqual(['k/2', 'k/3']);
      const second = await b.client.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: 'k/',
          ContinuationToken: first.NextContinuationToken,
        }),
      );
      expect(second).toMatchObject({
        ContinuationToken: first.NextContinuationToken,
        KeyCount: 2,
        IsTruncated: false,
      });
      expect(second.Contents?.map((o) => o.Key)).toEqual(['k/4', 'k/5']);
      expect(second.NextContinuationToken).toBeUndefined();
      const forged = b.client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: 'bm90IG91cnM' }),
      );
      expect(await failure(forged)).toMatchObject({ name: 'InvalidArgument', status: 400 });
    } finally {
      await b.close();
    }
  });
});
