/**
 * The local S3 server serves only requests signed (SigV4) with the local credentials, refuses form POST
 * uploads and keys that would leave its data folder, and listens on loopback only; the SDK client the
 * pipeline uses still works.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLocalS3 } from '../../../src/storage/local-s3.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../src/storage/s3-client.js';
import { BUCKET, type S3Harness, startS3 } from '../../helpers/local-s3.js';

let h: S3Harness;

beforeEach(async () => {
  h = await startS3();
});
afterEach(async () => h.close());

/** A raw HTTP request with the path exactly as given (fetch would resolve `..` segments first). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<{ status: number; body: string }> {
  const url = new URL(h.s3.endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const client = (credentials: { accessKeyId: string; secretAccessKey: string }, extra = {}) =>
  new S3Client({
    endpoint: h.s3.endpoint,
    region: LOCAL_REGION,
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...extra,
  });

const status = (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** Every file under the bucket's folder in the data directory. */
async function storedFiles(): Promise<string[]> {
  return (await readdir(join(h.dataDir, BUCKET), { recursive: true })).map(String);
}

/** A browser's form upload (what any web page can send without a CORS preflight). */
function formPost(key: string): Promise<{ status: number; body: string }> {
  const boundary = '----nstFormBoundary';
  const part = (name: string, value: string, file = false) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="x.jpg"' : ''}\r\n` +
    `${file ? 'Content-Type: image/jpeg\r\n' : ''}\r\n${value}\r\n`;
  const body = `${part('key', key)}${part('file', 'not really a jpeg', true)}--${boundary}--\r\n`;
  return raw(
    'POST',
    `/${BUCKET}`,
    { 'content-type': `multipart/form-data; boundary=${boundary}`, origin: 'https://evil.example' },
    body,
  );
}

describe('the local S3 server serves only signed requests', () => {
  it('refuses unsigned requests with 403 and writes nothing', async () => {
    await h.store.put('inputs/starry/a.jpg', 'photo');
    expect(await raw('GET', `/${BUCKET}/inputs/starry/a.jpg`)).toMatchObject({ status: 403 });
    const put = await raw('PUT', `/${BUCKET}/inputs/starry/b.jpg`, {}, 'evil');
    expect(put.status).toBe(403);
    expect(put.body).toContain('not signed');
    expect(await raw('GET', `/${BUCKET}?list-type=2`)).toMatchObject({ status: 403 });
    expect(await h.store.get('inputs/starry/b.jpg')).toBeUndefined();
  });

  it('refuses a wrong secret, an unknown access key, a skewed clock and presigned URLs but uploads', async () => {
    await h.store.put('k', 'v');
    const get = (c: S3Client) => c.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'k' }));
    const wrongSecret = client({ accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'nope' });
    await expect(get(wrongSecret)).rejects.toSatisfy((e) => status(e) === 403);
    await expect(
      wrongSecret.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'inputs/starry/x.jpg', Body: 'x' })),
    ).rejects.toSatisfy((e) => status(e) === 403);
    expect(await h.store.get('inputs/starry/x.jpg')).toBeUndefined();
    const wrongKey = client({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
    });
    await expect(get(wrongKey)).rejects.toSatisfy((e) => status(e) === 403);
    const skewed = client(LOCAL_CREDENTIALS, { systemClockOffset: -3600_000 });
    await expect(get(skewed)).rejects.toSatisfy((e) => status(e) === 403);
    const presigned = await raw(
      'GET',
      `/${BUCKET}/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=${'0'.repeat(64)}`,
    );
    expect(presigned).toMatchObject({ status: 403 });
    expect(presigned.body).toContain('presigned URLs are accepted for uploads (PUT) only');
    // The local credentials work, whatever the key's characters.
    for (const key of ['k', 'inputs/starry/a b+c%.jpg', 'inputs/ünï/çødé (1).png']) {
      await h.store.put(key, `body of ${key}`);
      expect((await h.store.get(key))!.body.toString()).toBe(`body of ${key}`);
    }
    expect(await h.store.list('inputs/')).toHaveLength(2);
  });
});

describe('form POSTs and keys outside the data folder', () => {
  it('refuses a browser form POST upload and writes nothing', async () => {
    const before = await storedFiles();
    const res = await formPost('inputs/starry/evil.jpg');
    expect(res.status).toBe(405);
    expect(res.body).toContain('form POST uploads are not accepted');
    expect(await storedFiles()).toEqual(before);
  });

  it('refuses ../ keys by form POST and by signed PUT; no file appears outside the data folder', async () => {
    const name = `nst-escaping-${process.pid}-${Date.now()}`;
    const escaping = `../../../../../../../../..${tmpdir()}/${name}`;
    const outside = join(tmpdir(), name);
    expect((await formPost(escaping)).status).toBe(405);
    // The SDK sends the key's `..` segments as they are; a raw request tries the encoded spellings too.
    const put = (Key: string) => h.s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'x' }));
    for (const key of [escaping, 'inputs/../../x', 'inputs/./x', '..', 'a/../../b']) {
      await expect(put(key)).rejects.toSatisfy((e) => status(e) === 400);
    }
    for (const path of [
      `/${BUCKET}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e${tmpdir()}/${name}`,
      `/${BUCKET}/..%2F..%2F..%2F..%2F..%2F..%2F..%2F..${encodeURIComponent(`${tmpdir()}/${name}`)}`,
      `/%2e%2e/${name}`,
    ]) {
      expect((await raw('PUT', path, {}, 'x')).status).toBeGreaterThanOrEqual(400);
    }
    expect(existsSync(outside)).toBe(false);
    expect(await storedFiles()).toEqual([]);
  });

  it('answers loopback host names only (no DNS rebinding, no S3 virtual hosts) and refuses DeleteObjects', async () => {
    for (const host of ['evil.example:4568', `${BUCKET}.s3.amazonaws.com`, '10.0.0.1']) {
      const res = await raw('PUT', `/${BUCKET}/escaped.txt`, { host }, 'x');
      expect(res.status, host).toBe(400);
      expect(res.body).toContain('loopback hosts only');
    }
    const bulk = await raw(
      'POST',
      `/${BUCKET}?delete`,
      {},
      '<Delete><Object><Key>../x</Key></Object></Delete>',
    );
    expect(bulk.status).toBe(405);
    expect(await storedFiles()).toEqual([]);
    expect(existsSync(join(h.dataDir, '..', BUCKET))).toBe(false);
  });

  it('serves only its bucket, and only on loopback', async () => {
    await expect(
      h.s3.client.send(new PutObjectCommand({ Bucket: 'other', Key: 'k', Body: 'x' })),
    ).rejects.toSatisfy((e) => status(e) === 404);
    await expect(startLocalS3({ dataDir: h.dataDir, bucket: BUCKET, host: '0.0.0.0' })).rejects.toThrow(
      /loopback only/,
    );
  });
});
