/**
 * A storm: well over 100 uploads at once into the local pipeline (the real local S3 server, its events,
 * the shared handler, Lambda-like retries), at least a quarter of them bad in every way the code refuses
 * today. The pipeline's promise, checked for every upload: a terminal job.json (succeeded or failed) and
 * exactly one notification; no failed job has a result object; every input is byte-identical afterwards.
 * The figures (uploads, terminal, notifications, stuck, wall time) are printed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { type LocalPipeline, startLocalPipeline } from '../../src/jobs/local/local-pipeline.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { cachedWeights } from '../../src/jobs/wiring/weights-cache.js';
import { jpeg, png, weightsDir } from './harness.js';

const BUCKET = 'nst-storm';
const GOOD = 32;
/** Copies of each bad kind: 16 kinds x 6 = 96 bad uploads, more than a quarter of all of them. */
const PER_BAD_KIND = 6;
/** One 20 px scale, 1 iteration: the least real work a job can do. */
const FAST = { 'nst-size': '20', 'nst-min-size': '20', 'nst-iterations': '1' };

/** Small enough that an upload 1 MB over it is refused before it is downloaded; every other input is smaller. */
const MAX_INPUT_BYTES = 5_000_000;

let weights: Awaited<ReturnType<typeof weightsDir>>;
let dataDir: string;
let pipeline: LocalPipeline;
const notifications: JobNotification[] = [];

beforeAll(async () => {
  weights = await weightsDir();
  dataDir = await mkdtemp(join(tmpdir(), 'nst-storm-'));
  pipeline = await startLocalPipeline({
    dataDir,
    bucket: BUCKET,
    loadWeights: () => cachedWeights(weights.dir),
    config: { threads: 1, maxPixels: 1_000_000, maxInputBytes: MAX_INPUT_BYTES, leaseSeconds: 2 },
    concurrency: 4,
    logLevel: 'SILENT',
    notifier: { started: async () => {}, finished: async (n) => void notifications.push(n) },
    write: () => {},
  });
});
afterAll(async () => {
  await pipeline?.close();
  await rm(dataDir, { recursive: true, force: true });
  await weights.cleanup();
});

interface Upload {
  readonly kind: string;
  readonly key: string;
  readonly body: Buffer;
  readonly metadata?: Record<string, string>;
  /** The error code the job must fail with; undefined: it must succeed. */
  readonly code?: string;
}

const spec = (content: string, style: string, options: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      content,
      styles: [{ key: style }],
      options: { size: 20, minSize: 20, iterations: 1, ...options },
    }),
  );

async function uploads(): Promise<Upload[]> {
  const photo = await jpeg(24, 20, 3);
  const list: Upload[] = [];
  for (let i = 0; i < GOOD; i++) {
    const kind = i % 2 === 0 ? 'drop-in' : 'spec';
    if (kind === 'drop-in')
      list.push({ kind, key: `inputs/starry/good-${i}.jpg`, body: photo, metadata: FAST });
    else
      list.push({
        kind,
        key: `jobs/good-${i}.json`,
        body: spec('inputs/starry/photo-for-specs.jpg', 'styles/starry.png'),
      });
  }
  const truncated = photo.subarray(0, Math.floor(photo.length / 2));
  const huge = await png(1200, 1000, 9); // 1.2 MP, over the 1 MP limit set above
  const bad: Omit<Upload, 'key'>[] = [
    { kind: 'corrupt', body: truncated, metadata: FAST, code: 'IMAGE_CORRUPT' },
    { kind: 'empty', body: Buffer.alloc(0), metadata: FAST, code: 'IMAGE_EMPTY' },
    {
      kind: 'not an image',
      body: Buffer.from('hello, I am text'),
      metadata: FAST,
      code: 'IMAGE_UNSUPPORTED',
    },
    { kind: 'too many pixels', body: huge, metadata: FAST, code: 'IMAGE_TOO_LARGE' },
    {
      kind: 'bad metadata',
      body: photo,
      metadata: { ...FAST, 'nst-iterations': 'lots' },
      code: 'INVALID_OPTION',
    },
    {
      kind: 'unknown option',
      body: photo,
      metadata: { ...FAST, 'nst-colour': 'yes' },
      code: 'INVALID_OPTION',
    },
    { kind: 'missing style', body: photo, metadata: FAST, code: 'STYLE_NOT_FOUND' },
    { kind: 'misplaced', body: photo, metadata: FAST, code: 'INVALID_JOB_SPEC' },
    { kind: 'spec not JSON', body: Buffer.from('{"content": '), code: 'INVALID_JOB_SPEC' },
    { kind: 'spec invalid', body: Buffer.from(JSON.stringify({ content: 42 })), code: 'INVALID_JOB_SPEC' },
    {
      kind: 'spec missing content',
      body: spec('inputs/nowhere.jpg', 'styles/starry.png'),
      code: 'IMAGE_NOT_FOUND',
    },
    {
      kind: 'corrupt style',
      body: spec('inputs/starry/photo-for-specs.jpg', 'styles/broken.png'),
      code: 'IMAGE_CORRUPT',
    },
    // The limits: keys outside the readable prefixes, a style-image bomb, too many bytes, frames too often.
    { kind: 'spec outside inputs', body: spec('photo.jpg', 'styles/starry.png'), code: 'INVALID_JOB_SPEC' },
    {
      kind: 'spec style bomb',
      body: spec('inputs/starry/photo-for-specs.jpg', 'styles/bomb.png'),
      code: 'IMAGE_TOO_LARGE',
    },
    {
      kind: 'too many bytes',
      body: Buffer.alloc(MAX_INPUT_BYTES + 1_000_000),
      metadata: FAST,
      code: 'INPUT_TOO_LARGE',
    },
    {
      kind: 'frames too often',
      body: photo,
      metadata: { ...FAST, 'nst-save-every': '1' },
      code: 'INVALID_OPTION',
    },
  ];
  for (const b of bad) {
    for (let i = 0; i < PER_BAD_KIND; i++) {
      const slug = `${b.kind.replace(/ /g, '-')}-${i}`;
      const key =
        b.kind.startsWith('spec') || b.kind === 'corrupt style'
          ? `jobs/${slug}.json`
          : b.kind === 'missing style'
            ? `inputs/nosuchstyle/${slug}.jpg`
            : b.kind === 'misplaced'
              ? `inputs/${slug}.jpg`
              : `inputs/starry/${slug}.${b.kind === 'too many pixels' ? 'png' : 'jpg'}`;
      list.push({ ...b, key });
    }
  }
  return list;
}

it('every upload of a storm ends in a terminal job.json with exactly one notification', async () => {
  const { store } = pipeline;
  // Styles and the specs' photo are there before the storm (no events: not under a trigger prefix,
  // or uploaded before the storm's jobs name them).
  const style = await png(20, 20, 5);
  await store.put('styles/starry.png', style);
  const broken = style.subarray(0, 40);
  await store.put('styles/broken.png', broken);
  await store.put('styles/bomb.png', await png(20_000, 2, 6)); // a few KB that claim a 10000:1 shape
  const specPhoto = await jpeg(24, 20, 4);
  await store.put('inputs/starry/photo-for-specs.jpg', specPhoto, { metadata: FAST });
  await pipeline.idle();
  notifications.length = 0;

  const list = await uploads();
  expect(list.length).toBeGreaterThanOrEqual(100);
  expect(list.filter((u) => u.code).length).toBeGreaterThanOrEqual(list.length / 4);
  const started = performance.now();
  const etags = await Promise.all(list.map((u) => store.put(u.key, u.body, { metadata: u.metadata })));
  await pipeline.idle();
  const wallSeconds = (performance.now() - started) / 1000;

  const jobIds = list.map((u, i) => jobIdFor({ bucket: BUCKET, key: u.key, etag: etags[i] }));
  const manifests = await Promise.all(
    jobIds.map(async (id) => (await store.getJson<JobManifest>(`outputs/${id}/job.json`))?.value),
  );
  const terminal = manifests.filter((m) => m && (m.status === 'succeeded' || m.status === 'failed'));
  const perJob = new Map<string, number>();
  for (const n of notifications) perJob.set(n.jobId, (perJob.get(n.jobId) ?? 0) + 1);
  const stuck = list.length - terminal.length;
  console.log(
    `storm: uploads ${list.length} (bad ${list.filter((u) => u.code).length}), terminal ${terminal.length}, ` +
      `notifications ${notifications.length}, stuck ${stuck}, wall time ${wallSeconds.toFixed(1)} s`,
  );

  const problems: string[] = [];
  for (const [i, u] of list.entries()) {
    const m = manifests[i];
    const id = jobIds[i];
    const want = u.code ? 'failed' : 'succeeded';
    if (m?.status !== want || (u.code && m.error?.code !== u.code))
      problems.push(
        `${u.kind} ${u.key}: ${m?.status ?? 'no job.json'} ${m?.error?.code ?? ''} (want ${want} ${u.code ?? ''}) ${m?.error?.message ?? ''}`,
      );
    if (perJob.get(id) !== 1) problems.push(`${u.key}: ${perJob.get(id) ?? 0} notifications`);
    if (m?.status === 'failed') {
      const results = (await store.list(`outputs/${id}/`)).filter((k) => k.includes('/result.'));
      if (results.length > 0) problems.push(`${u.key}: failed but has ${results.join(', ')}`);
    }
    const now = await store.get(u.key);
    if (!now?.body.equals(u.body)) problems.push(`${u.key}: the input changed`);
  }
  for (const [key, body] of [
    ['styles/starry.png', style],
    ['styles/broken.png', broken],
    ['inputs/starry/photo-for-specs.jpg', specPhoto],
  ] as const) {
    if (!(await store.get(key))?.body.equals(body)) problems.push(`${key}: the input changed`);
  }
  expect(problems).toEqual([]);
  expect(stuck).toBe(0);
  expect(notifications.length).toBe(list.length);
}, 240_000);
