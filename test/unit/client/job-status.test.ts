/** Finding jobs: by id, by input key or s3:// URI (a real local S3 server), and the recent ones newest first. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findJob, listJobs } from '../../../src/client/job-status.js';
import type { JobManifest } from '../../../src/jobs/lifecycle/manifest.js';
import { jobIdFor } from '../../../src/jobs/spec/job-id.js';
import { type ListedObject, ObjectStore } from '../../../src/storage/object-store.js';
import { BUCKET, type S3Harness, startS3 } from '../../helpers/local-s3.js';

const job = (
  jobId: string,
  status: JobManifest['status'],
  createdAt: string,
  key = `inputs/s/${jobId}.jpg`,
) =>
  ({
    jobId,
    status,
    bucket: BUCKET,
    source: { key, kind: key.startsWith('jobs/') ? 'spec' : 'drop-in', etag: '"e"' },
    runs: 0,
    continuations: 0,
    timings: { createdAt, phases: { fetch: 0, stylize: 0, store: 0 } },
    history: [],
  }) as JobManifest;

describe('findJob', () => {
  let h: S3Harness;
  beforeAll(async () => {
    h = await startS3();
  });
  afterAll(async () => h.close());

  it('finds a job by id, by the key of its upload (drop-in or spec) and by s3:// URI', async () => {
    await h.store.putJson('outputs/a-1/job.json', job('a-1', 'running', '2026-03-01T10:00:00.000Z'));
    expect((await findJob(h.store, 'a-1')).jobId).toBe('a-1');
    for (const key of ['inputs/starry/photo 1.jpg', 'jobs/night.json']) {
      const etag = await h.store.put(key, 'x');
      const jobId = jobIdFor({ bucket: BUCKET, key, etag });
      await h.store.putJson(
        `outputs/${jobId}/job.json`,
        job(jobId, 'queued', '2026-03-01T10:00:00.000Z', key),
      );
      expect((await findJob(h.store, key)).jobId).toBe(jobId);
      expect((await findJob(h.store, `s3://${BUCKET}/${key}`)).jobId).toBe(jobId);
    }
  });

  it("finds a job under a pipeline's key prefix by a whole URI, and a presigned upload's by its given id", async () => {
    const art = new ObjectStore(h.s3.client, BUCKET, 'art/');
    const etag = await art.put('inputs/starry/given.jpg', 'x', {
      metadata: { 'nst-job-id': 'given-0123456789abcdef' },
    });
    await art.putJson(
      'outputs/given-0123456789abcdef/job.json',
      job('given-0123456789abcdef', 'queued', '2026-03-01T10:00:00.000Z', 'inputs/starry/given.jpg'),
    );
    expect(etag).toBeTruthy();
    for (const ref of [
      'given-0123456789abcdef',
      'inputs/starry/given.jpg',
      `s3://${BUCKET}/art/inputs/starry/given.jpg`,
    ])
      expect((await findJob(art, ref)).jobId).toBe('given-0123456789abcdef');
    await expect(findJob(art, `s3://${BUCKET}/inputs/starry/given.jpg`)).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('is not under the pipeline\'s prefix "art/"'),
    });
    await expect(findJob(art, 'gone-1')).rejects.toMatchObject({
      message: `no job gone-1: there is no s3://${BUCKET}/art/outputs/gone-1/job.json`,
    });
  });

  it('names what is missing or wrong', async () => {
    await expect(findJob(h.store, 'gone-1')).rejects.toMatchObject({
      code: 'JOB_NOT_FOUND',
      message: `no job gone-1: there is no s3://${BUCKET}/outputs/gone-1/job.json`,
    });
    await expect(findJob(h.store, 'inputs/starry/none.jpg')).rejects.toMatchObject({
      code: 'JOB_NOT_FOUND',
      message: `no object s3://${BUCKET}/inputs/starry/none.jpg, so no job for it`,
    });
    // Right after an upload, before its event has run: not fatal to a polling script.
    const etag = await h.store.put('inputs/starry/waiting.jpg', 'x');
    const pendingId = jobIdFor({ bucket: BUCKET, key: 'inputs/starry/waiting.jpg', etag });
    await expect(findJob(h.store, 'inputs/starry/waiting.jpg')).rejects.toMatchObject({
      code: 'JOB_PENDING',
      kind: 'transient',
      message: `s3://${BUCKET}/inputs/starry/waiting.jpg (job ${pendingId}): no job.json yet: the job has not started; try again shortly`,
    });
    await expect(findJob(h.store, 'styles/starry.png')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringContaining('is not a key that starts a job'),
    });
    await expect(findJob(h.store, 's3://other/inputs/s/p.jpg')).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: `s3://other/inputs/s/p.jpg is in bucket "other", not "${BUCKET}": add --bucket other`,
    });
    await expect(findJob(h.store, 'Not An Id')).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});

/** A bucket of job.json files (lastModified as given) that counts the manifests read. */
function fakeStore(jobs: { manifest: JobManifest; lastModified: string }[]) {
  const reads: string[] = [];
  const objects: ListedObject[] = jobs.flatMap(({ manifest, lastModified }) => [
    { key: `outputs/${manifest.jobId}/job.json`, lastModified: new Date(lastModified), etag: '"e"', size: 1 },
    {
      key: `outputs/${manifest.jobId}/frames/00001.png`,
      lastModified: new Date(lastModified),
      etag: '"e"',
      size: 1,
    },
  ]);
  // Not job.json files, though named so: never read.
  for (const key of ['outputs/job.json', 'outputs/j-0/frames/job.json', 'inputs/s/job.json'])
    objects.push({ key, lastModified: new Date('2026-03-01T11:00:00.000Z'), etag: '"e"', size: 1 });
  const store = {
    listObjects: async () => objects,
    getJson: async (key: string) => {
      reads.push(key);
      const found = jobs.find((j) => key === `outputs/${j.manifest.jobId}/job.json`);
      return found && { value: found.manifest, etag: '"e"' };
    },
  } as unknown as ObjectStore;
  return { store, reads };
}

describe('listJobs', () => {
  const minute = (m: number) => new Date(Date.UTC(2026, 2, 1, 10, m)).toISOString();
  // 40 finished jobs, one a minute, each job.json last written 2 minutes after creation; and an old job,
  // created first, still running (its job.json written last).
  const jobs = [
    ...Array.from({ length: 40 }, (_, i) => ({
      manifest: job(`j-${i}`, i % 2 ? 'succeeded' : 'failed', minute(i + 1)),
      lastModified: minute(i + 3),
    })),
    { manifest: job('old-running', 'running', minute(0)), lastModified: minute(59) },
  ];

  it('returns the newest created first, reading only the recent job.json files', async () => {
    const { store, reads } = fakeStore(jobs);
    const found = await listJobs(store, { limit: 5 });
    expect(found.map((m) => m.jobId)).toEqual(['j-39', 'j-38', 'j-37', 'j-36', 'j-35']);
    expect(reads.length).toBeLessThanOrEqual(16);
    expect(reads.every((key) => /^outputs\/[^/]+\/job\.json$/.test(key))).toBe(true);
    console.log(`listJobs: the 5 newest of ${jobs.length} jobs after reading ${reads.length} job.json files`);
  });

  it('filters by status: an old job still running is found however old', async () => {
    const { store } = fakeStore(jobs);
    expect((await listJobs(store, { status: 'running', limit: 20 })).map((m) => m.jobId)).toEqual([
      'old-running',
    ]);
    const succeeded = await listJobs(store, { status: 'succeeded', limit: 3 });
    expect(succeeded.map((m) => m.jobId)).toEqual(['j-39', 'j-37', 'j-35']);
    // Everything, when the limit is larger than the bucket: newest created first, the old job last.
    const all = await listJobs(store, { limit: 100 });
    expect(all).toHaveLength(41);
    expect(all.at(-1)!.jobId).toBe('old-running');
  });
});
