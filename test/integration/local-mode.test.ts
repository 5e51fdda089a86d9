/**
 * The local embedded mode end to end: the local pipeline turns uploads into jobs through the same handler,
 * with S3's prefix filters; notifications are printed and POSTed to a webhook, and events POSTed
 * EventBridge-shaped to another (local HTTP servers here);
 * `nst serve` prints how to drop files in and `nst submit --wait` drops one and fetches the result; the
 * `npm start` demo writes the result, job.json and a contact sheet; a restarted server ends (resumes or
 * fails) the jobs a killed one left `running`, and an event whose retries run out ends its job.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerPipelineCommands } from '../../src/cli/commands/serve.js';
import { runPipelineDemo } from '../../src/cli/demo.js';
import { serve, serveInstructions } from '../../src/cli/serve.js';
import { submitDropIn } from '../../src/client/submit.js';
import { NstError } from '../../src/errors.js';
import type { LockRecord } from '../../src/jobs/lifecycle/lock.js';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { newManifest, transition } from '../../src/jobs/lifecycle/manifest.js';
import { type LocalPipeline, startLocalPipeline } from '../../src/jobs/local/local-pipeline.js';
import type { DeliveredJobEvent } from '../../src/jobs/notify/job-events.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { cachedWeights } from '../../src/jobs/wiring/weights-cache.js';
import { startLocalS3 } from '../../src/storage/local-s3.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { readJson } from '../helpers/local-s3.js';
import { startSfnStandIn } from '../helpers/sfn-stand-in.js';
import { type WebhookServer, webhookServer } from '../helpers/webhook-server.js';
import {
  captured,
  jpeg,
  lambdaContext,
  png,
  TINY,
  TINY_METADATA,
  testHandler,
  weightsDir,
} from './harness.js';

let weights: Awaited<ReturnType<typeof weightsDir>>;
let temp: string;

beforeAll(async () => {
  weights = await weightsDir();
});
afterAll(async () => weights.cleanup());
beforeEach(async () => {
  temp = await mkdtemp(join(tmpdir(), 'nst-local-'));
});
afterEach(async () => rm(temp, { recursive: true, force: true }));

describe('the local pipeline', () => {
  let pipeline: LocalPipeline;
  let hook: WebhookServer<JobNotification>;
  let eventsHook: WebhookServer<DeliveredJobEvent>;
  const lines: string[] = [];
  const settled: JobOutcome[][] = [];

  beforeEach(async () => {
    [hook, eventsHook] = await Promise.all([
      webhookServer<JobNotification>(),
      webhookServer<DeliveredJobEvent>(),
    ]);
    lines.length = 0;
    settled.length = 0;
    pipeline = await startLocalPipeline({
      dataDir: join(temp, 's3'),
      bucket: 'local',
      loadWeights: () => cachedWeights(weights.dir),
      config: { webhookUrl: hook.url, eventsWebhookUrl: eventsHook.url },
      write: (line) => lines.push(line),
      logLevel: 'SILENT',
      onSettled: ({ outcomes }) => settled.push(outcomes ?? []),
    });
    await pipeline.store.put('styles/starry.png', await png(48, 48, 5));
  });
  afterEach(async () => {
    await pipeline.close();
    hook.server.close();
    eventsHook.server.close();
  });

  it('stylises a drop-in and tells: a printed line, a webhook POST of the notification, and its events', async () => {
    await pipeline.store.put('inputs/starry/photo one.jpg', await jpeg(), { metadata: TINY_METADATA });
    await pipeline.idle();
    expect(settled).toHaveLength(1);
    const [outcome] = settled[0];
    const jobId = outcome.jobId!;
    expect(outcome.status).toBe('succeeded');
    const manifest = await readJson<JobManifest>(pipeline.store, `outputs/${jobId}/job.json`);
    expect(manifest.route).toMatchObject({ worker: 'local' });

    const resultKey = `outputs/${jobId}/result.jpg`;
    const notification: JobNotification = {
      jobId,
      status: 'succeeded',
      bucket: 'local',
      input: {
        source: 'inputs/starry/photo one.jpg',
        content: 'inputs/starry/photo one.jpg',
        styles: ['styles/starry.png'],
      },
      output: { uri: `s3://local/${resultKey}`, ...manifest.output! },
      manifest: `s3://local/outputs/${jobId}/job.json`,
      timings: manifest.timings,
      route: manifest.route,
      engine: manifest.engine,
    };
    expect(hook.posts).toHaveLength(1);
    expect(hook.posts[0].headers['content-type']).toBe('application/json');
    expect(hook.posts[0].body).toEqual(notification);

    // The events: Started as the run began (its route, no result yet), then Succeeded, whose detail is the
    // notification itself.
    const resources = ['arn:aws:s3:::local/inputs/starry/photo one.jpg'];
    const delivered = {
      version: '0',
      id: expect.any(String),
      source: 'serverless-style-transfer',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    };
    expect(eventsHook.posts.map((p) => p.body)).toEqual([
      {
        ...delivered,
        'detail-type': 'Style Transfer Job Started',
        resources,
        detail: {
          ...notification,
          status: 'running',
          output: undefined,
          engine: undefined,
          timings: {
            createdAt: manifest.timings.createdAt,
            startedAt: manifest.timings.startedAt,
            phases: { fetch: expect.any(Number), stylize: 0, store: 0 },
          },
        },
      },
      {
        ...delivered,
        'detail-type': 'Style Transfer Job Succeeded',
        resources: [...resources, `arn:aws:s3:::local/${resultKey}`],
        detail: notification,
      },
    ]);
    expect(new Set(eventsHook.posts.map((p) => p.body.id)).size).toBe(2);
    expect(lines).toEqual([
      `nst: event ${JSON.stringify(eventsHook.posts[0].body)}`,
      `nst: job ${jobId} succeeded: s3://local/${resultKey} (status s3://local/outputs/${jobId}/job.json)`,
      `nst: event ${JSON.stringify(eventsHook.posts[1].body)}`,
    ]);
  });

  it('tells failures with their code: the notification, and a Failed event only (the job never started)', async () => {
    await pipeline.store.put('inputs/nowhere/photo.jpg', await jpeg(), { metadata: TINY_METADATA });
    await pipeline.idle();
    const jobId = settled[0][0].jobId;
    const failed = expect.objectContaining({
      jobId,
      status: 'failed',
      error: expect.objectContaining({ code: 'STYLE_NOT_FOUND' }),
    });
    expect(hook.posts.map((p) => p.body)).toEqual([failed]);
    expect(eventsHook.posts.map((p) => p.body)).toEqual([
      expect.objectContaining({ 'detail-type': 'Style Transfer Job Failed', detail: failed }),
    ]);
    expect(lines[0]).toMatch(
      new RegExp(`^nst: job ${jobId} failed: STYLE_NOT_FOUND: no style painting s3://local/styles/nowhere`),
    );
  });

  it('runs explicit jobs, and only inputs/ and jobs/ trigger (assets/ and outputs/ never do)', async () => {
    // The spec's photo and mask under assets/: their uploads start nothing, so the spec's job is the only one.
    await pipeline.store.put('assets/a.jpg', await jpeg());
    await pipeline.store.put('assets/masks/a.png', await png(20, 16, 9));
    await pipeline.store.put('outputs/manual/result.jpg', await jpeg());
    await pipeline.idle();
    expect(settled).toEqual([]);
    const spec = {
      content: 'assets/a.jpg',
      styles: [{ key: 'styles/starry.png', mask: 'assets/masks/a.png' }],
    };
    await pipeline.store.put('jobs/a.json', JSON.stringify({ ...spec, options: TINY }));
    await pipeline.idle();
    expect(settled).toEqual([
      [expect.objectContaining({ status: 'succeeded', jobId: expect.stringMatching(/^a-/) })],
    ]);
    expect(hook.posts.map((p) => p.body.input)).toEqual([
      { source: 'jobs/a.json', content: 'assets/a.jpg', styles: ['styles/starry.png'] },
    ]);
  });

  it('submit refuses a painting the pipeline would not use', async () => {
    const { writeFile } = await import('node:fs/promises');
    const photo = join(temp, 'photo.jpg');
    await writeFile(photo, await jpeg(40, 32, 1));
    for (const name of ['starry.webp', 'painting.bmp'])
      await writeFile(join(temp, name), await png(20, 20, 2));
    // styles/starry.png exists and ranks before .webp: the job would silently use it.
    await expect(
      submitDropIn(pipeline.store, { content: photo, style: join(temp, 'starry.webp') }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/styles\/starry\.png already holds the style/),
    });
    await expect(
      submitDropIn(pipeline.store, { content: photo, style: join(temp, 'painting.bmp') }),
    ).rejects.toMatchObject({
      code: 'IMAGE_UNSUPPORTED',
    });
    expect(await pipeline.store.list('styles/')).toEqual(['styles/starry.png']);
    expect(await pipeline.store.list('inputs/')).toEqual([]);
  });

  it('keeps working when the webhooks are down', async () => {
    hook.server.close();
    eventsHook.server.close();
    await pipeline.store.put('inputs/starry/photo.jpg', await jpeg(), { metadata: TINY_METADATA });
    await pipeline.idle();
    expect(settled[0][0].status).toBe('succeeded');
    const failures = lines.filter((l) => l.startsWith('nst: webhook '));
    expect(failures.map((l) => l.split(' failed')[0])).toEqual([
      `nst: webhook ${eventsHook.url}`,
      `nst: webhook ${hook.url}`,
      `nst: webhook ${eventsHook.url}`,
    ]);
  });
});

describe('a Step Functions task waiting on a local job (AWS_ENDPOINT_URL_SFN)', () => {
  it('gets heartbeats and one answer, where the SDK variable points: the notification, or the error', async () => {
    const sfn = await startSfnStandIn();
    const hook = await webhookServer<JobNotification>();
    vi.stubEnv('AWS_ENDPOINT_URL_SFN', sfn.endpoint);
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const pipeline = await startLocalPipeline({
      dataDir: join(temp, 's3'),
      bucket: 'local',
      loadWeights: () => cachedWeights(weights.dir),
      config: { webhookUrl: hook.url },
      write: () => {},
      logLevel: 'SILENT',
    });
    try {
      await pipeline.store.put('styles/starry.png', await png(48, 48, 5));
      await pipeline.store.put('assets/a.jpg', await jpeg());
      const spec = { content: 'assets/a.jpg', styles: [{ key: 'styles/starry.png' }], options: TINY };
      await pipeline.store.put('jobs/waited.json', JSON.stringify({ ...spec, taskToken: 'token-ok' }));
      await pipeline.store.put(
        'jobs/bad.json',
        JSON.stringify({ ...spec, styles: [], taskToken: 'token-bad' }),
      );
      await pipeline.idle();
      const ok = sfn.answers.filter((a) => a.taskToken === 'token-ok');
      expect(ok.map((a) => a.action)).toEqual([
        ...Array(ok.length - 1).fill('SendTaskHeartbeat'),
        'SendTaskSuccess',
      ]);
      expect(ok.length).toBeGreaterThan(1);
      const succeeded = hook.posts.find((p) => p.body.status === 'succeeded')!.body;
      expect(JSON.parse(ok.at(-1)!.output!)).toEqual(succeeded);
      expect(sfn.answers.filter((a) => a.taskToken === 'token-bad')).toEqual([
        {
          action: 'SendTaskFailure',
          taskToken: 'token-bad',
          error: 'INVALID_JOB_SPEC',
          cause: expect.stringContaining('styles'),
        },
      ]);
    } finally {
      vi.unstubAllEnvs();
      await pipeline.close();
      hook.server.close();
      await sfn.close();
    }
  });
});

describe('a pipeline under a key prefix (a bucket shared with other uses)', () => {
  it('runs only the uploads under its prefix, reads and writes there, and tells the whole keys', async () => {
    const lines: string[] = [];
    const settled: JobOutcome[][] = [];
    const start = () =>
      startLocalPipeline({
        dataDir: join(temp, 's3'),
        bucket: 'shared',
        loadWeights: () => cachedWeights(weights.dir),
        config: { keyPrefix: 'art/' },
        write: (line) => lines.push(line),
        logLevel: 'SILENT',
        onSettled: ({ outcomes }) => settled.push(outcomes ?? []),
        sweepIntervalMs: 0,
      });
    const pipeline = await start();
    const bucket = new ObjectStore(pipeline.s3.client, 'shared');
    try {
      await bucket.put('art/styles/starry.png', await png(48, 48, 5));
      await bucket.put('art/assets/a.jpg', await jpeg());
      // Another use of the bucket: its own inputs/ and jobs/ folders are none of this pipeline's.
      await bucket.put('inputs/starry/theirs.jpg', await jpeg(), { metadata: TINY_METADATA });
      await bucket.put('other/jobs/theirs.json', '{}');
      await pipeline.idle();
      expect(settled).toEqual([]);
      // A spec names keys relative to the prefix, as everything inside the pipeline does.
      await bucket.put(
        'art/jobs/a.json',
        JSON.stringify({ content: 'assets/a.jpg', styles: [{ key: 'styles/starry.png' }], options: TINY }),
      );
      await bucket.put('art/inputs/starry/photo.jpg', await jpeg(), { metadata: TINY_METADATA });
      await pipeline.idle();
      expect(settled.flat().map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
      const jobIds = settled.flat().map((o) => o.jobId!);
      expect((await bucket.list('')).filter((k) => !k.startsWith('art/'))).toEqual([
        'inputs/starry/theirs.jpg',
        'other/jobs/theirs.json',
      ]);
      const manifest = await readJson<JobManifest>(pipeline.store, `outputs/${jobIds[0]}/job.json`);
      expect(manifest).toMatchObject({
        source: { key: 'jobs/a.json' },
        output: { key: `outputs/${jobIds[0]}/result.jpg` },
      });
      expect(await bucket.head(`art/outputs/${jobIds[0]}/result.jpg`)).toBeDefined();
      expect(lines).toEqual([
        `nst: job ${jobIds[0]} succeeded: s3://shared/art/outputs/${jobIds[0]}/result.jpg (status s3://shared/art/outputs/${jobIds[0]}/job.json)`,
        `nst: job ${jobIds[1]} succeeded: s3://shared/art/outputs/${jobIds[1]}/result.jpg (status s3://shared/art/outputs/${jobIds[1]}/job.json)`,
      ]);
    } finally {
      await pipeline.close();
    }
    // A restart finds every upload under the prefix with its job: nothing is replayed.
    lines.length = 0;
    const again = await start();
    await again.idle();
    await again.close();
    expect(lines).toEqual([]);
  });
});

describe('jobs a killed server left behind, and events whose retries run out', () => {
  const lines: string[] = [];
  const dataDir = () => join(temp, 's3');
  const start = (more: Partial<Parameters<typeof startLocalPipeline>[0]> = {}) =>
    startLocalPipeline({
      dataDir: dataDir(),
      bucket: 'local',
      loadWeights: () => cachedWeights(weights.dir),
      write: (line) => lines.push(line),
      logLevel: 'SILENT',
      ...more,
    });
  /** Writes into the data folder what a killed server left there. */
  async function leaveBehind(
    write: (store: ObjectStore, s3: Awaited<ReturnType<typeof startLocalS3>>) => Promise<void>,
  ) {
    const s3 = await startLocalS3({
      dataDir: dataDir(),
      bucket: 'local',
      eventPrefixes: ['inputs/', 'jobs/'],
    });
    try {
      await write(new ObjectStore(s3.client, 'local'), s3);
    } finally {
      await s3.close();
    }
  }
  const heldLock = (jobId: string, leaseEnds: Date): LockRecord => ({
    jobId,
    state: 'held',
    owner: `local-${process.pid}-dead`,
    leaseExpiresAt: leaseEnds.toISOString(),
    updatedAt: new Date(leaseEnds.getTime() - 45_000).toISOString(),
  });
  async function leftRunning(store: ObjectStore, jobId: string, leaseEnds: Date) {
    const at = new Date(Date.now() - 60_000);
    const source = { key: `inputs/starry/${jobId}.jpg`, kind: 'drop-in' as const, etag: '"e"' };
    const running = transition(newManifest(jobId, 'local', source, at), 'running', at, 'local run 1', {
      runs: 1,
    });
    await store.putJson(`outputs/${jobId}/job.json`, running);
    await store.putJson(`outputs/${jobId}/lock.json`, heldLock(jobId, leaseEnds));
  }
  const failures = () => lines.filter((l) => / failed: JOB_ABANDONED: /.test(l));

  beforeEach(() => {
    lines.length = 0;
  });

  it('a job left running without a checkpoint ends failed at start-up (or, while its lease lasts, at the next sweep)', async () => {
    await leaveBehind(async (store) => {
      await leftRunning(store, 'stale-1', new Date(Date.now() - 1000));
      await leftRunning(store, 'stale-2', new Date(Date.now() + 1500));
    });
    const pipeline = await start({ sweepIntervalMs: 300 });
    try {
      await pipeline.idle();
      expect(await readJson<JobManifest>(pipeline.store, 'outputs/stale-1/job.json')).toMatchObject({
        status: 'failed',
        error: { code: 'JOB_ABANDONED', message: expect.stringContaining('(status running, locally)') },
      });
      // The killed server's lease still ran at start-up: the timer's sweep ends the job once it lapses.
      expect((await readJson<JobManifest>(pipeline.store, 'outputs/stale-2/job.json')).status).toBe(
        'running',
      );
      await vi.waitFor(
        async () =>
          expect((await readJson<JobManifest>(pipeline.store, 'outputs/stale-2/job.json')).status).toBe(
            'failed',
          ),
        { timeout: 10_000, interval: 200 },
      );
      await new Promise((resolve) => setTimeout(resolve, 700)); // more sweeps: still one notice each
    } finally {
      await pipeline.close();
    }
    expect(failures()).toEqual([
      expect.stringMatching(/^nst: job stale-1 failed: JOB_ABANDONED: its worker stopped/),
      expect.stringMatching(/^nst: job stale-2 failed: JOB_ABANDONED: its worker stopped/),
    ]);
    // A second restart finds nothing to do.
    lines.length = 0;
    const again = await start();
    await again.idle();
    await again.close();
    expect(lines).toEqual([]);
  });

  it('a job left with a checkpoint resumes from it after a restart and succeeds, notified once', async () => {
    let jobId = '';
    await leaveBehind(async (store, s3) => {
      await store.put('styles/starry.png', await png(48, 48, 5));
      const events: unknown[] = [];
      s3.onObjectCreated((e) => events.push(e));
      await store.put('inputs/starry/long.jpg', await jpeg(), {
        metadata: {
          'nst-size': '45',
          'nst-min-size': '32',
          'nst-scale-growth': '1.4142',
          'nst-iterations': '3',
        },
      });
      // A run that stopped at a deadline and checkpointed, as a local worker killed then would leave it.
      let calls = 0;
      const handler = testHandler(weights.dir, {
        s3: s3.client,
        sns: captured.sns().client,
        lambda: captured.lambda().client,
      });
      const [outcome] = await handler(
        events[0],
        lambdaContext(() => (++calls <= 2 ? 900_000 : 30_000)),
      );
      expect(outcome).toMatchObject({ status: 'queued' });
      jobId = outcome.jobId!;
      await store.putJson(`outputs/${jobId}/lock.json`, heldLock(jobId, new Date(Date.now() - 1000)));
    });
    const settled: JobOutcome[][] = [];
    const pipeline = await start({
      sweepIntervalMs: 0,
      onSettled: ({ outcomes }) => settled.push(outcomes ?? []),
    });
    try {
      await pipeline.idle();
      expect(settled).toEqual([[{ jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` }]]);
      const done = await readJson<JobManifest>(pipeline.store, `outputs/${jobId}/job.json`);
      expect(done).toMatchObject({ status: 'succeeded', runs: 2, iterations: 6 });
      expect(done.history.map((t) => t.status)).toEqual([
        'queued',
        'running',
        'queued',
        'queued',
        'running',
        'succeeded',
      ]);
    } finally {
      await pipeline.close();
    }
    expect(lines).toEqual([
      `nst: job ${jobId}: its worker stopped; resumes from its checkpoint`,
      `nst: job ${jobId} succeeded: s3://local/outputs/${jobId}/result.jpg (status s3://local/outputs/${jobId}/job.json)`,
    ]);
  });

  it('uploads whose events a killed server never ran are run once after a restart', async () => {
    await leaveBehind(async (store) => {
      // The server stopped before handling these events (none is subscribed here): no job.json exists.
      await store.put('styles/starry.png', await png(48, 48, 5));
      await store.put('inputs/starry/queued.jpg', await jpeg(), { metadata: TINY_METADATA });
      await store.put('inputs/starry/queued-bad.jpg', Buffer.from('not an image'), {
        metadata: TINY_METADATA,
      });
      await store.put('jobs/readme.txt', Buffer.from('not a job')); // ignored, as its event would be
    });
    const pipeline = await start({ sweepIntervalMs: 0 });
    try {
      await pipeline.idle();
      const manifests = (await pipeline.store.list('outputs/')).filter((k) => k.endsWith('/job.json'));
      const statuses = await Promise.all(
        manifests.map(async (k) => (await readJson<JobManifest>(pipeline.store, k)).status),
      );
      expect(statuses.sort()).toEqual(['failed', 'succeeded']);
    } finally {
      await pipeline.close();
    }
    expect(lines[0]).toBe('nst: 2 upload(s) without a job from an earlier run: running them');
    expect(lines.filter((l) => / succeeded: /.test(l))).toHaveLength(1);
    expect(lines.filter((l) => / failed: IMAGE_UNSUPPORTED: /.test(l))).toHaveLength(1);
    // Every upload has its job now: a second restart replays nothing.
    lines.length = 0;
    const again = await start({ sweepIntervalMs: 0 });
    await again.idle();
    await again.close();
    expect(lines).toEqual([]);
  });

  it('an event whose retries run out is dead-lettered, and its job ends failed with JOB_ABANDONED', async () => {
    const pipeline = await start({
      createEngine: async () => {
        throw new NstError('STORAGE_UNAVAILABLE', 'cannot write s3://local/x: connection reset');
      },
    });
    try {
      await pipeline.store.put('styles/starry.png', await png(48, 48, 5));
      await pipeline.store.put('inputs/starry/photo.jpg', await jpeg(), { metadata: TINY_METADATA });
      await pipeline.idle();
      const [jobDir] = await pipeline.store.list('outputs/');
      const jobId = jobDir.split('/')[1];
      expect(await readJson<JobManifest>(pipeline.store, `outputs/${jobId}/job.json`)).toMatchObject({
        status: 'failed',
        error: {
          code: 'JOB_ABANDONED',
          message:
            "the job's worker failed or died after 3 attempts; the last error: cannot write s3://local/x: " +
            'connection reset (error code STORAGE_UNAVAILABLE)',
        },
      });
      expect(lines).toEqual([
        'nst: event for inputs/starry/photo.jpg dead-lettered: cannot write s3://local/x: connection reset',
        expect.stringMatching(new RegExp(`^nst: job ${jobId} failed: JOB_ABANDONED: `)),
      ]);
    } finally {
      await pipeline.close();
    }
  });
});

describe('nst serve and nst submit', () => {
  it('serve prints the endpoint and how to drop files in; submit --wait drops a photo and fetches the result', async () => {
    const stderr: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    let stop!: () => void;
    const until = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let endpoint = '';
    const running = serve(
      { port: '0', data: join(temp, 'serve-data'), bucket: 'pics', weights: weights.dir, concurrency: '1' },
      { until, onReady: (p) => (endpoint = p.endpoint) },
    );
    try {
      await vi.waitFor(() => expect(endpoint).not.toBe(''), { timeout: 20_000 });
      const printed = stderr.join('');
      expect(printed).toContain(`nst: local S3 pipeline at ${endpoint}, bucket "pics"`);
      expect(printed).toContain('npx nst submit photo.jpg --style starry.jpg');
      expect(printed).toContain(
        `aws --endpoint-url ${endpoint} s3 cp photo.jpg s3://pics/inputs/starry/photo.jpg --metadata nst-size=512`,
      );

      const photo = join(temp, 'holiday photo.jpg');
      const painting = join(temp, 'My Painting.png');
      await sharp(await jpeg(40, 32)).toFile(photo);
      await sharp(await png(48, 48)).toFile(painting);
      const program = new Command('nst').exitOverride();
      registerPipelineCommands(program);
      const out = join(temp, 'out');
      await program.parseAsync(
        [
          'submit',
          photo,
          '--style',
          painting,
          '--endpoint',
          endpoint,
          '--bucket',
          'pics',
          '--size',
          '32',
          '--min-size',
          '32',
          '--iterations',
          '2',
          '--format',
          'png',
          '--wait',
          '--out',
          out,
        ],
        { from: 'user' },
      );
      const submitted = stderr.join('');
      const jobId = /job (\S+): status s3:\/\/pics\/outputs\/\1\/job\.json/.exec(submitted)?.[1];
      expect(jobId).toMatch(/^holiday-photo-[0-9a-f]{16}$/);
      expect(submitted).toContain(
        `nst: uploaded s3://pics/inputs/my-painting/${jobId}.jpg (style s3://pics/styles/my-painting.png)`,
      );
      expect(submitted).toContain(`nst: job ${jobId} succeeded: ${join(out, jobId!, 'result.png')}`);
      // Off a terminal, --wait prints the status as it changes, with job.json's progress.
      expect(submitted).toMatch(
        new RegExp(
          `nst: job ${jobId}: succeeded, scale 1/1 \\(32x26\\), iteration 2/2, 100% \\(2/2\\), done, loss `,
        ),
      );
      const manifest = JSON.parse(await readFile(join(out, jobId!, 'job.json'), 'utf8')) as JobManifest;
      // Only the options given on the command line travelled as metadata.
      expect(manifest.spec!.options).toMatchObject({
        size: 32,
        minSize: 32,
        iterations: 2,
        optimizer: 'lbfgs',
      });
      expect(manifest.iterations).toBe(2);
      expect((await sharp(join(out, jobId!, 'result.png')).metadata()).format).toBe('png');

      // A style name that is not in the bucket is an error before anything is uploaded.
      await expect(
        program.parseAsync(
          ['submit', photo, '--style', 'monet', '--endpoint', endpoint, '--bucket', 'pics'],
          { from: 'user' },
        ),
      ).rejects.toMatchObject({ code: 'STYLE_NOT_FOUND' });
    } finally {
      stop();
      await running;
      spy.mockRestore();
    }
    // Nothing listens any more: submit says so.
    const program = new Command('nst').exitOverride();
    registerPipelineCommands(program);
    await expect(
      program.parseAsync(
        ['submit', join(temp, 'holiday photo.jpg'), '--style', 'x', '--endpoint', endpoint],
        { from: 'user' },
      ),
    ).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: expect.stringContaining('is `nst serve` running'),
    });
  });

  it('serve refuses a webhook that is not an http(s) URL, or a bad key prefix, before it starts anything', async () => {
    const flags = {
      port: '0',
      data: join(temp, 'never'),
      bucket: 'pics',
      weights: weights.dir,
      concurrency: '1',
    };
    await expect(serve({ ...flags, eventsWebhook: 'ftp://example.com/hook' })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: '--events-webhook must be an http or https URL, got ftp://example.com/hook',
    });
    await expect(serve({ ...flags, webhook: 'hooks/nst' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(serve({ ...flags, prefix: 'art' })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/^--prefix "art": '' or folders ending in '\/'/),
    });
    expect(existsSync(join(temp, 'never'))).toBe(false);
  });

  it('the instructions name a non-default endpoint, bucket and key prefix for submit, and the keys under it', () => {
    expect(serveInstructions('http://127.0.0.1:9000', { bucket: 'nst', keyPrefix: '' }, '/d')).toContain(
      '--style starry.jpg --size 512 --endpoint http://127.0.0.1:9000\n',
    );
    const shared = serveInstructions('http://127.0.0.1:9000', { bucket: 'media', keyPrefix: 'art/' }, '/d');
    expect(shared).toContain('--size 512 --endpoint http://127.0.0.1:9000 --bucket media --prefix art/\n');
    expect(shared).toContain('s3 cp photo.jpg s3://media/art/inputs/starry/photo.jpg');
    expect(shared).toContain('Results: s3://media/art/outputs/<jobId>/');
  });
});

describe('npm start (the pipeline demo)', () => {
  it('runs the example pair through the local pipeline and writes result, job.json and contact sheet', async () => {
    const out = join(temp, 'demo');
    const stderr: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    try {
      await runPipelineDemo({
        weightsDir: weights.dir,
        outDir: out,
        options: { size: 36, minSize: 32, iterations: 2 },
      });
    } finally {
      spy.mockRestore();
    }
    const printed = stderr.join('');
    expect(printed).toMatch(
      /result: +s3:\/\/nst\/outputs\/content-[0-9a-f]{16}\/result\.jpg {2}-> {2}.*demo\/result\.jpg/,
    );
    expect(printed).toMatch(
      /status: +s3:\/\/nst\/outputs\/content-[0-9a-f]{16}\/job\.json {2}-> {2}.*demo\/job\.json/,
    );
    expect(printed).toContain(`contact sheet: ${join(out, 'contact-sheet.png')}`);
    const manifest = JSON.parse(await readFile(join(out, 'job.json'), 'utf8')) as JobManifest;
    expect(manifest).toMatchObject({
      status: 'succeeded',
      // The photo's key is named by its job, given in advance (nst submit's way).
      spec: { content: `inputs/style/${manifest.jobId}.jpg`, styles: [{ key: 'styles/style.jpg' }] },
    });
    expect(await sharp(join(out, 'result.jpg')).metadata()).toMatchObject({ width: 36, height: 24 });
    // content (3:2) | style (1:1) | result (3:2) at one height, side by side.
    const sheet = await sharp(join(out, 'contact-sheet.png')).metadata();
    expect(sheet.format).toBe('png');
    expect(sheet.width!).toBeGreaterThan(3 * sheet.height! * 0.9);
    expect(existsSync(join(out, 'contact-sheet.png'))).toBe(true);
  });
});
