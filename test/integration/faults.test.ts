/**
 * Faults against the real local S3 server, each asserting the pipeline's promise: the upload ends in a
 * terminal job.json with exactly one notification, and a failed or abandoned run leaves no partial result.
 *
 * - a worker process killed with SIGKILL mid-run (as an out-of-memory or timeout kill would): Lambda's
 *   retry of the event, after the lease lapses, takes the job over and finishes it;
 * - S3 unavailable for a while mid-job, and SNS unavailable: the local pipeline retries like Lambda's
 *   asynchronous invocation (twice), and the job ends;
 * - every event delivered three times, concurrently and out of order: one job per upload, one notification.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { S3Event } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NstError } from '../../src/errors.js';
import type { LockRecord } from '../../src/jobs/lifecycle/lock.js';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { type LocalPipeline, startLocalPipeline } from '../../src/jobs/local/local-pipeline.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { cachedWeights } from '../../src/jobs/wiring/weights-cache.js';
import { BUCKET, readJson, type S3Harness, startS3 } from '../helpers/local-s3.js';
import { captured, jpeg, lambdaContext, png, TINY_METADATA, testHandler, weightsDir } from './harness.js';

const REPO = path.resolve(import.meta.dirname, '../..');
/** Long enough to be killed mid-run: one 32 px scale, 400 iterations (several seconds). */
const LONG = { ...TINY_METADATA, 'nst-iterations': '400' };

let weights: Awaited<ReturnType<typeof weightsDir>>;
beforeAll(async () => {
  weights = await weightsDir();
});
afterAll(async () => weights.cleanup());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const manifestOf = async (store: S3Harness['store'], jobId: string) =>
  (await store.getJson<JobManifest>(`outputs/${jobId}/job.json`))?.value;
const resultsOf = async (store: S3Harness['store'], jobId: string) =>
  (await store.list(`outputs/${jobId}/`)).filter((k) => k.includes('/result.'));

describe('a worker killed mid-run', () => {
  let h: S3Harness;
  let temp: string;
  let child: ChildProcess | undefined;
  beforeEach(async () => {
    h = await startS3();
    temp = await mkdtemp(path.join(tmpdir(), 'nst-faults-'));
    await h.store.put('styles/starry.png', await png(48, 48, 5));
  });
  afterEach(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await h.close();
    await rm(temp, { recursive: true, force: true });
  });

  /** The Lambda handler on `event` in a child process, on this server; its notifications are log lines. */
  async function spawnWorker(event: S3Event): Promise<{ child: ChildProcess; stdout: () => string }> {
    const script = path.join(temp, 'worker.mts');
    const from = (p: string) => JSON.stringify(pathToFileURL(path.join(REPO, p)).href);
    await writeFile(
      script,
      `import { createStylizeHandler } from ${from('functions/stylize/index.ts')};
import { createS3Client } from ${from('src/storage/s3-client.ts')};
const handler = createStylizeHandler({
  env: { NST_WEIGHTS_DIR: process.env.NST_WEIGHTS_DIR, NST_LOCK_LEASE_SECONDS: '2', NST_THREADS: '1' },
  s3: createS3Client({ endpoint: process.env.NST_TEST_ENDPOINT }),
});
const context = { awsRequestId: 'doomed-worker', invokedFunctionArn: 'arn:aws:lambda:us-east-1:1:function:f',
  getRemainingTimeInMillis: () => 900000 };
await handler(JSON.parse(process.env.NST_TEST_EVENT), context);
`,
    );
    const spawned = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO,
      env: {
        ...process.env,
        NST_WEIGHTS_DIR: weights.dir,
        NST_TEST_ENDPOINT: h.s3.endpoint,
        NST_TEST_EVENT: JSON.stringify(event),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    spawned.stdout?.on('data', (d) => (out += d));
    spawned.stderr?.on('data', (d) => (out += d));
    return { child: spawned, stdout: () => out };
  }

  it('SIGKILL mid-run: the retried event takes the job over after the lease and finishes it, notified once', async () => {
    const key = 'inputs/starry/killed.jpg';
    const event = await h.upload(key, await jpeg(), LONG);
    const jobId = jobIdFor({ bucket: BUCKET, key, etag: event.Records[0].s3.object.eTag });
    const worker = await spawnWorker(event);
    child = worker.child;
    // Killed once it is running and has renewed its lease at least once.
    await until('the worker to run the job', async () =>
      worker.child.exitCode !== null
        ? Promise.reject(new Error(`the worker exited: ${worker.stdout()}`))
        : (await manifestOf(h.store, jobId))?.status === 'running'
          ? true
          : undefined,
    );
    await sleep(1000);
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    expect(child.signalCode).toBe('SIGKILL');

    // What the kill leaves: job.json `running`, a held lock, no result, no notification.
    expect((await manifestOf(h.store, jobId))?.status).toBe('running');
    expect(await readJson<LockRecord>(h.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'held',
      owner: 'doomed-worker',
    });
    expect(await resultsOf(h.store, jobId)).toEqual([]);
    expect(worker.stdout()).not.toContain('"notification"');

    const sns = captured.sns();
    const handler = testHandler(weights.dir, {
      s3: h.s3.client,
      sns: sns.client,
      env: { NST_LOCK_LEASE_SECONDS: '2', NST_THREADS: '1' },
    });
    // A retry while the dead worker's lease still runs is a duplicate; Lambda's next retry comes later.
    const lock = await readJson<LockRecord>(h.store, `outputs/${jobId}/lock.json`);
    if (Date.parse(lock.leaseExpiresAt) > Date.now() + 200) {
      expect(await handler(event, lambdaContext(undefined, 'retry-1'))).toEqual([
        { jobId, status: 'skipped', detail: 'running' },
      ]);
    }
    await sleep(Math.max(0, Date.parse(lock.leaseExpiresAt) - Date.now() + 100));
    expect(await handler(event, lambdaContext(undefined, 'retry-2'))).toEqual([
      { jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` },
    ]);
    const done = await readJson<JobManifest>(h.store, `outputs/${jobId}/job.json`);
    expect(done).toMatchObject({ status: 'succeeded', runs: 2 });
    expect(done.history.map((t) => t.status)).toEqual(['queued', 'running', 'running', 'succeeded']);
    expect(sns.calls).toHaveLength(1);
    expect(await resultsOf(h.store, jobId)).toEqual([`outputs/${jobId}/result.jpg`]);
    // Later deliveries are duplicates.
    expect(await handler(event, lambdaContext(undefined, 'retry-3'))).toEqual([
      { jobId, status: 'skipped', detail: 'finished' },
    ]);
    expect(sns.calls).toHaveLength(1);
  }, 90_000);
});

describe('S3 and SNS unavailable for a while', () => {
  let dataDir: string;
  let pipeline: LocalPipeline;
  let notifications: JobNotification[];
  let settled: { outcomes?: JobOutcome[]; error?: unknown }[];
  let notifyFailures: number;
  let notifyAttempts: number;

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'nst-faults-'));
    notifications = [];
    settled = [];
    notifyFailures = 0;
    notifyAttempts = 0;
    pipeline = await startLocalPipeline({
      dataDir,
      bucket: BUCKET,
      loadWeights: () => cachedWeights(weights.dir),
      // A lease shorter than the retry delays (1 s, 2 s), as Lambda's (45 s) is shorter than its (1-2 min).
      config: { threads: 1, leaseSeconds: 0.5 },
      logLevel: 'SILENT',
      write: () => {},
      notifier: {
        started: async () => {},
        finished: async (n) => {
          notifyAttempts++;
          if (notifyFailures > 0) {
            notifyFailures--;
            throw new NstError('NOTIFICATION_FAILED', 'SNS is unavailable');
          }
          notifications.push(n);
        },
      },
      onSettled: (r) => settled.push(r),
    });
    await pipeline.store.put('styles/starry.png', await png(48, 48, 5));
  });
  afterEach(async () => {
    await pipeline.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * Fails every S3 request with 503 SlowDown for `ms`, from the first request after job.json first says
   * `running` (the window starts then, not at the write: building an engine blocks the event loop).
   */
  function s3OutageWhenRunning(ms: number): { failed: () => number } {
    let armed = false;
    let until = 0;
    let failed = 0;
    pipeline.s3.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (armed && until === 0) until = Date.now() + ms;
        if (Date.now() < until) {
          failed++;
          throw Object.assign(new Error('SlowDown: S3 is unavailable'), {
            name: 'SlowDown',
            $metadata: { httpStatusCode: 503 },
          });
        }
        const input = args.input as { Key?: string; Body?: unknown };
        const out = await next(args);
        if (
          !armed &&
          context.commandName === 'PutObjectCommand' &&
          input.Key?.endsWith('/job.json') &&
          String(input.Body).includes('"status": "running"')
        ) {
          armed = true;
        }
        return out;
      },
      { step: 'initialize', name: 'nstOutage' },
    );
    return { failed: () => failed };
  }

  it('S3 down for 1.5 s mid-job: the event is retried and the job ends, notified once', async () => {
    const outage = s3OutageWhenRunning(1500);
    const put = await pipeline.store.put('inputs/starry/outage.jpg', await jpeg(), {
      metadata: { ...TINY_METADATA, 'nst-iterations': '30' },
    });
    await pipeline.idle();
    const jobId = jobIdFor({ bucket: BUCKET, key: 'inputs/starry/outage.jpg', etag: put });
    const manifest = await manifestOf(pipeline.store, jobId);
    expect(outage.failed()).toBeGreaterThan(0);
    expect(manifest?.status).toBe('succeeded');
    expect(manifest!.runs).toBeGreaterThanOrEqual(2); // the outage broke a run; a retry ran it again
    expect(notifications.map((n) => n.jobId)).toEqual([jobId]);
    expect(settled).toHaveLength(1);
    expect(settled[0].error).toBeUndefined();
  }, 60_000);

  it('SNS down for two attempts: the retries notify once, and the job stays succeeded', async () => {
    notifyFailures = 2;
    const put = await pipeline.store.put('inputs/starry/sns.jpg', await jpeg(), { metadata: TINY_METADATA });
    await pipeline.idle();
    const jobId = jobIdFor({ bucket: BUCKET, key: 'inputs/starry/sns.jpg', etag: put });
    const manifest = await manifestOf(pipeline.store, jobId);
    expect(manifest).toMatchObject({ status: 'succeeded', runs: 1 });
    expect(notifyAttempts).toBe(3);
    expect(notifications.map((n) => n.jobId)).toEqual([jobId]);
    expect(await readJson<LockRecord>(pipeline.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'done',
    });
    expect(settled[0].error).toBeUndefined();
  }, 60_000);
});

describe('at-least-once delivery', () => {
  let h: S3Harness;
  beforeEach(async () => {
    h = await startS3();
    await h.store.put('styles/starry.png', await png(48, 48, 5));
  });
  afterEach(async () => h.close());

  it('each event three times, concurrently and out of order: one job per upload, one notification', async () => {
    const sns = captured.sns();
    const handler = testHandler(weights.dir, { s3: h.s3.client, sns: sns.client, env: { NST_THREADS: '1' } });
    // A photo uploaded twice (the first version replaced), and a spec.
    const first = await h.upload('inputs/starry/twice.jpg', await jpeg(40, 32, 1), TINY_METADATA);
    const second = await h.upload('inputs/starry/twice.jpg', await jpeg(40, 32, 2), TINY_METADATA);
    await h.store.put('inputs/starry/for-spec.jpg', await jpeg(40, 32, 3));
    const spec = await h.upload(
      'jobs/three.json',
      JSON.stringify({
        content: 'inputs/starry/for-spec.jpg',
        styles: [{ key: 'styles/starry.png' }],
        options: { size: 32, minSize: 32, iterations: 3 },
      }),
    );
    const events = { first, second, spec };
    // Newest first, then interleaved: the replaced version's events arrive last.
    const order: (keyof typeof events)[] = [
      'second',
      'spec',
      'second',
      'first',
      'spec',
      'second',
      'first',
      'spec',
      'first',
    ];
    const outcomes = (
      await Promise.all(
        order.map((name, i) => handler(events[name], lambdaContext(undefined, `delivery-${i}`))),
      )
    ).flat();

    const idOf = (e: S3Event) =>
      jobIdFor({
        bucket: BUCKET,
        key: decodeURIComponent(e.Records[0].s3.object.key),
        etag: e.Records[0].s3.object.eTag,
      });
    const ids = { first: idOf(first), second: idOf(second), spec: idOf(spec) };
    for (const id of Object.values(ids)) {
      expect(outcomes.filter((o) => o.jobId === id && o.status !== 'skipped')).toHaveLength(1);
      expect(sns.calls.filter((c) => String(c.input.Message).includes(id))).toHaveLength(1);
    }
    expect(sns.calls).toHaveLength(3);
    expect(await manifestOf(h.store, ids.second)).toMatchObject({ status: 'succeeded' });
    expect(await manifestOf(h.store, ids.spec)).toMatchObject({ status: 'succeeded' });
    // The replaced upload's job fails once, saying so, with no result.
    expect(await manifestOf(h.store, ids.first)).toMatchObject({
      status: 'failed',
      error: { code: 'INPUT_CHANGED' },
    });
    expect(await resultsOf(h.store, ids.first)).toEqual([]);
  }, 90_000);
});
