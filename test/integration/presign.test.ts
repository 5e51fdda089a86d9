/**
 * Presigned uploads against the local pipeline: a client without credentials PUTs the photo to the URL
 * with the signed headers, and the job has the id given in advance; the URL admits nothing else (other
 * headers, another key, after its expiry, a GET), and `nst submit --presign` prints it and uploads nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PresignedUpload, presignDropIn } from '../../src/client/presign.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { type LocalPipeline, startLocalPipeline } from '../../src/jobs/local/local-pipeline.js';
import { cachedWeights } from '../../src/jobs/wiring/weights-cache.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { LOCAL_CREDENTIALS } from '../../src/storage/s3-client.js';
import { nst } from '../helpers/cli.js';
import { readJson } from '../helpers/local-s3.js';
import { jpeg, png, TINY, weightsDir } from './harness.js';

let weights: Awaited<ReturnType<typeof weightsDir>>;
let temp: string;
let pipeline: LocalPipeline;

beforeAll(async () => {
  weights = await weightsDir();
  temp = await mkdtemp(join(tmpdir(), 'nst-presign-'));
  pipeline = await startLocalPipeline({
    dataDir: join(temp, 's3'),
    bucket: 'local',
    loadWeights: () => cachedWeights(weights.dir),
    config: { keyPrefix: 'art/' },
    write: () => {},
    logLevel: 'SILENT',
    sweepIntervalMs: 0,
  });
  await pipeline.store.put('styles/starry.png', await png(48, 48, 5));
});
afterAll(async () => {
  await pipeline?.close();
  await weights?.cleanup();
  await rm(temp, { recursive: true, force: true });
});

/** The bucket as a client sees it: whole keys. */
const bucket = () => new ObjectStore(pipeline.s3.client, 'local');

const put = (upload: Pick<PresignedUpload, 'url' | 'headers'>, body: Buffer, headers = upload.headers) =>
  fetch(upload.url, { method: 'PUT', headers, body });

describe('a presigned upload', () => {
  it('starts the job whose id it was given: the client sends the bytes and the signed headers, nothing else', async () => {
    const upload = await presignDropIn(pipeline.store, {
      content: 'holiday photo.jpg',
      style: 'starry',
      options: TINY,
      output: { format: 'png' },
    });
    expect(upload).toMatchObject({
      method: 'PUT',
      jobId: expect.stringMatching(/^holiday-photo-[0-9a-f]{16}$/),
      headers: { 'x-amz-meta-nst-size': '32', 'x-amz-meta-nst-format': 'png' },
    });
    expect(upload.headers['x-amz-meta-nst-job-id']).toBe(upload.jobId);
    // Whole keys, with the pipeline's prefix: what a client polls.
    expect(upload.statusKey).toBe(`art/outputs/${upload.jobId}/job.json`);
    // A key of its own, named by the job: another upload of holiday photo.jpg cannot replace it.
    expect(upload.key).toBe(`art/inputs/starry/${upload.jobId}.jpg`);
    expect(new URL(upload.url).pathname).toBe(`/local/${upload.key}`);
    expect(new URL(upload.url).searchParams.get('X-Amz-SignedHeaders')).toContain('x-amz-meta-nst-job-id');

    const answer = await put(upload, await jpeg(40, 32));
    expect(answer.status).toBe(200);
    await pipeline.idle();
    const manifest = await readJson<JobManifest>(bucket(), upload.statusKey);
    expect(manifest).toMatchObject({
      jobId: upload.jobId,
      status: 'succeeded',
      source: { key: upload.key.slice('art/'.length) },
      spec: { output: { format: 'png' } },
    });
  });

  it('admits no other headers, no other key, no other method, and nothing after it expires', async () => {
    const upload = await presignDropIn(pipeline.store, {
      content: 'p.jpg',
      style: 'starry',
      options: TINY,
      expiresInSeconds: 2,
    });
    const photo = await jpeg(40, 32);
    const refused = async (answer: Response, why: RegExp) => {
      expect(answer.status).toBe(403);
      expect(await answer.text()).toMatch(why);
    };
    await refused(
      await put(upload, photo, { ...upload.headers, 'x-amz-meta-nst-size': '4096' }),
      /signature does not match/,
    );
    await refused(
      await put(upload, photo, { ...upload.headers, 'x-amz-meta-nst-style-weight': '1e9' }),
      /header x-amz-meta-nst-style-weight is not signed/,
    );
    const { 'x-amz-meta-nst-job-id': _, ...withoutId } = upload.headers;
    await refused(await put(upload, photo, withoutId), /signed header x-amz-meta-nst-job-id is missing/);
    await refused(
      await put({ ...upload, url: upload.url.replace(`${upload.jobId}.jpg`, 'q.jpg') }, photo),
      /signature does not match/,
    );
    const get = await getSignedUrl(
      pipeline.s3.client,
      new GetObjectCommand({ Bucket: 'local', Key: 'art/styles/starry.png' }),
    );
    await refused(await fetch(get), /presigned URLs are accepted for uploads \(PUT\) only/);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await refused(await put(upload, photo), /presigned URL has expired/);
    expect(await bucket().list(upload.key)).toEqual([]);
  });

  it("is refused with a client that would sign the empty body's checksum into the URL (the SDK's default)", async () => {
    const checksumming = new S3Client({
      endpoint: pipeline.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await expect(
        presignDropIn(new ObjectStore(checksumming, 'local', 'art/'), { content: 'p.jpg', style: 'starry' }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringContaining("requestChecksumCalculation: 'WHEN_REQUIRED'"),
      });
    } finally {
      checksumming.destroy();
    }
  });

  it('is refused for a style the bucket does not hold, and for a life over 7 days', async () => {
    await expect(presignDropIn(pipeline.store, { content: 'p.jpg', style: 'nowhere' })).rejects.toMatchObject(
      {
        code: 'STYLE_NOT_FOUND',
        message: expect.stringContaining('upload the painting first'),
      },
    );
    await expect(
      presignDropIn(pipeline.store, { content: 'p.jpg', style: 'starry', expiresInSeconds: 8 * 24 * 3600 }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('1 to 604800 seconds'),
    });
  });

  it('nst submit --presign prints the upload as JSON and uploads nothing', async () => {
    const photo = join(temp, 'beach.jpg');
    await writeFile(photo, await jpeg(40, 32, 3));
    const before = await bucket().list('');
    const { code, stdout, stderr } = await nst([
      'submit',
      photo,
      '--style',
      'starry',
      '--presign',
      '--expires',
      '600',
      '--endpoint',
      pipeline.endpoint,
      '--bucket',
      'local',
      '--prefix',
      'art/',
      '--size',
      '32',
    ]);
    expect(code).toBe(0);
    const upload = JSON.parse(stdout) as PresignedUpload;
    expect(upload).toMatchObject({
      key: expect.stringMatching(/^art\/inputs\/starry\/beach-[0-9a-f]{16}\.jpg$/),
      headers: { 'x-amz-meta-nst-size': '32' },
    });
    expect(stderr).toContain(`nst: job ${upload.jobId} starts when the photo is PUT to the URL`);
    expect(stderr).toContain("curl -X PUT --upload-file beach.jpg -H 'x-amz-meta-nst-size: 32'");
    expect(await bucket().list('')).toEqual(before);
  });
});
