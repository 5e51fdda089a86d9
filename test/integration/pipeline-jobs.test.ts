/**
 * The Lambda handler against a real local S3 server: drop-in and explicit jobs, metadata options, keys
 * that need encoding, duplicate deliveries and concurrent jobs. Jobs are tiny (32 px, 3 iterations).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { StylizeHandler } from '../../functions/stylize/index.js';
import { type JobManifest, newManifest } from '../../src/jobs/lifecycle/manifest.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { BUCKET, readJson } from '../helpers/local-s3.js';
import {
  captured,
  imageSize,
  jpeg,
  lambdaContext,
  png,
  quietMetrics,
  recordPuts,
  TINY,
  TINY_METADATA,
  testHandler,
  usePipelineFixture,
} from './harness.js';

const fixture = usePipelineFixture();

let sns: ReturnType<typeof captured.sns>;
let handler: StylizeHandler;

beforeEach(async () => {
  sns = captured.sns();
  handler = testHandler(fixture.weightsDir, { s3: fixture.server.s3.client, sns: sns.client });
});

const notifications = () => sns.calls.map((c) => JSON.parse(String(c.input.Message)) as JobNotification);

describe('drop-in jobs', () => {
  it('stylises inputs/<style>/<name> with styles/<style>.* and writes the result, then job.json', async () => {
    const event = await fixture.server.upload('inputs/starry/photo.jpg', await jpeg(40, 32), TINY_METADATA);
    const record = event.Records[0];
    const jobId = jobIdFor({ bucket: BUCKET, key: 'inputs/starry/photo.jpg', etag: record.s3.object.eTag });

    const outcomes = await handler(event, lambdaContext());

    expect(outcomes).toEqual([{ jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` }]);
    expect(await imageSize(fixture.server.store, `outputs/${jobId}/result.jpg`)).toEqual({
      width: 32,
      height: 26,
      format: 'jpeg',
    });
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(manifest).toMatchObject({
      jobId,
      status: 'succeeded',
      bucket: BUCKET,
      source: { key: 'inputs/starry/photo.jpg', kind: 'drop-in', etag: record.s3.object.eTag },
      spec: {
        content: 'inputs/starry/photo.jpg',
        styles: [{ key: 'styles/starry.png', weight: 1 }],
        options: { size: 32, minSize: 32, iterations: 3 },
      },
      output: { key: `outputs/${jobId}/result.jpg`, width: 32, height: 26 },
      engine: { kind: 'onnx', backend: 'onnx-cpu' },
      iterations: 3,
      runs: 1,
      route: { worker: 'lambda' },
    });
    expect(manifest.history.map((t) => t.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(manifest.losses!.final.total).toBeLessThan(manifest.losses!.initial.total);
    expect(manifest.timings.phases.stylize).toBeGreaterThan(0);
    expect(manifest.timings.finishedAt! >= manifest.timings.startedAt!).toBe(true);
    // The input is untouched; the lock says the job is done.
    expect((await fixture.server.store.get('inputs/starry/photo.jpg'))!.etag).toBe(
      `"${record.s3.object.eTag}"`,
    );
    expect(await readJson(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'done',
      owner: 'req-1',
    });
    expect(notifications()).toEqual([
      expect.objectContaining({
        jobId,
        status: 'succeeded',
        output: expect.objectContaining({
          uri: `s3://${BUCKET}/outputs/${jobId}/result.jpg`,
          key: `outputs/${jobId}/result.jpg`,
        }),
        input: {
          source: 'inputs/starry/photo.jpg',
          content: 'inputs/starry/photo.jpg',
          styles: ['styles/starry.png'],
        },
      }),
    ]);
  });

  it('reads every option from x-amz-meta-nst-* metadata: numbers, booleans, lists, enums, output settings', async () => {
    const event = await fixture.server.upload('inputs/starry/meta.png', await png(40, 32), {
      ...TINY_METADATA,
      'nst-iterations': '2',
      'nst-optimizer': 'adam',
      'nst-learning-rate': '5',
      'nst-original-colors': 'true',
      'nst-style-layer-weights': '1,1,1,1,1',
      'nst-pooling': 'max',
      'nst-seed': '7',
      'nst-format': 'webp',
      'nst-quality': '80',
    });
    const [outcome] = await handler(event, lambdaContext());
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${outcome.jobId}/job.json`);
    expect(manifest.spec).toMatchObject({
      options: {
        iterations: 2,
        optimizer: 'adam',
        learningRate: 5,
        originalColors: true,
        styleLayerWeights: [1, 1, 1, 1, 1],
        pooling: 'max',
        seed: 7,
      },
      output: { format: 'webp', quality: 80 },
    });
    expect(manifest.iterations).toBe(2);
    expect(await imageSize(fixture.server.store, `outputs/${outcome.jobId}/result.webp`)).toMatchObject({
      format: 'webp',
    });
  });

  it("decodes keys with spaces, '+', '%' and unicode exactly as S3 encodes them in events", async () => {
    const key = 'inputs/starry/my photo+1 100% (été) 東京.jpg';
    const event = await fixture.server.upload(key, await jpeg(), TINY_METADATA);
    expect(event.Records[0].s3.object.key).toBe(
      'inputs/starry/my+photo%2B1+100%25+%28%C3%A9t%C3%A9%29+%E6%9D%B1%E4%BA%AC.jpg',
    );
    const [outcome] = await handler(event, lambdaContext());
    expect(outcome.status).toBe('succeeded');
    expect(outcome.jobId).toMatch(/^my-photo-1-100-ete-[0-9a-f]{16}$/);
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${outcome.jobId}/job.json`);
    expect(manifest.source.key).toBe(key);
    expect(manifest.spec!.content).toBe(key);
  });

  it('writes progress frames every saveEvery iterations, tagged temporary', async () => {
    const event = await fixture.server.upload('inputs/starry/frames.jpg', await jpeg(), {
      ...TINY_METADATA,
      'nst-iterations': '20',
      'nst-save-every': '10', // the pipeline's minimum
    });
    const puts = recordPuts(fixture.server.s3.client);
    const [outcome] = await handler(event, lambdaContext());
    const dir = `outputs/${outcome.jobId}/`;
    const tagged = puts.filter((p) => p.tagging === 'nst-temporary=true').map((p) => p.key.slice(dir.length));
    expect(tagged.sort()).toEqual(['frames/00010.jpg', 'frames/00020.jpg']);
    expect(puts.find((p) => p.key === `${dir}result.jpg`)).toEqual({
      key: `${dir}result.jpg`,
      contentType: 'image/jpeg',
    });
    // job.json is the last object the job writes (the lock is marked done after the notification).
    expect(puts.filter((p) => !p.key.endsWith('lock.json')).at(-1)!.key).toBe(`${dir}job.json`);
    expect(await fixture.server.outputs(outcome.jobId!)).toEqual([
      `outputs/${outcome.jobId}/frames/00010.jpg`,
      `outputs/${outcome.jobId}/frames/00020.jpg`,
      `outputs/${outcome.jobId}/job.json`,
      `outputs/${outcome.jobId}/lock.json`,
      `outputs/${outcome.jobId}/result.jpg`,
    ]);
  });
});

describe('explicit jobs', () => {
  it('runs jobs/<name>.json with several styles, blend weights and an output format', async () => {
    await fixture.server.store.put('inputs/content.jpg', await jpeg(48, 36, 3));
    await fixture.server.store.put('styles/second.jpg', await jpeg(30, 30, 9));
    const spec = {
      content: 'inputs/content.jpg',
      styles: [
        { key: 'styles/starry.png', weight: 0.7 },
        { key: 'styles/second.jpg', weight: 0.3 },
      ],
      options: { ...TINY, styleScale: 0.8 },
      output: { format: 'png' },
    };
    const event = await fixture.server.upload('jobs/blend.json', JSON.stringify(spec));
    const [outcome] = await handler(event, lambdaContext());
    expect(outcome).toMatchObject({ status: 'succeeded', detail: `outputs/${outcome.jobId}/result.png` });
    expect(outcome.jobId).toMatch(/^blend-/);
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${outcome.jobId}/job.json`);
    expect(manifest.source).toMatchObject({ key: 'jobs/blend.json', kind: 'spec' });
    expect(manifest.spec).toMatchObject({
      styles: spec.styles,
      options: { styleScale: 0.8, size: 32 },
      output: { format: 'png' },
    });
    expect(await imageSize(fixture.server.store, `outputs/${outcome.jobId}/result.png`)).toEqual({
      width: 32,
      height: 24,
      format: 'png',
    });
  });

  it('handles several records in one event', async () => {
    const a = await fixture.server.upload('inputs/starry/a.jpg', await jpeg(32, 32, 1), TINY_METADATA);
    const b = await fixture.server.upload('inputs/starry/b.jpg', await jpeg(32, 32, 2), TINY_METADATA);
    const outcomes = await handler({ Records: [...a.Records, ...b.Records] }, lambdaContext());
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
    expect(new Set(outcomes.map((o) => o.jobId)).size).toBe(2);
  });
});

describe('at-least-once delivery', () => {
  it('does not run a finished job again when its event arrives twice', async () => {
    const event = await fixture.server.upload('inputs/starry/twice.jpg', await jpeg(), TINY_METADATA);
    const [first] = await handler(event, lambdaContext(undefined, 'req-1'));
    const result = await fixture.server.store.get(`outputs/${first.jobId}/result.jpg`);
    const [second] = await handler(event, lambdaContext(undefined, 'req-2'));
    expect(second).toEqual({ jobId: first.jobId, status: 'skipped', detail: 'finished' });
    expect((await fixture.server.store.get(`outputs/${first.jobId}/result.jpg`))!.etag).toBe(result!.etag);
    expect(sns.calls).toHaveLength(1);
  });

  it('runs a job given its id in advance (nst-job-id) under that id, and refuses another upload claiming it', async () => {
    const id = 'given-0123456789abcdef';
    const event = await fixture.server.upload('inputs/starry/given.jpg', await jpeg(), {
      ...TINY_METADATA,
      'nst-job-id': id,
    });
    // The first attempt dies after writing job.json (running), so the job is not finished when the other comes.
    const job = newManifest(
      id,
      BUCKET,
      { key: 'inputs/starry/given.jpg', kind: 'drop-in', etag: event.Records[0].s3.object.eTag },
      new Date(),
    );
    await fixture.server.store.putJson(`outputs/${id}/job.json`, job);
    const other = await fixture.server.upload('inputs/starry/other.jpg', await jpeg(40, 32, 7), {
      ...TINY_METADATA,
      'nst-job-id': id,
    });
    const [refused] = await handler(other, lambdaContext(undefined, 'req-other'));
    expect(refused).toEqual({
      jobId: id,
      status: 'skipped',
      detail: `job ${id} belongs to inputs/starry/given.jpg, not this upload of inputs/starry/other.jpg`,
    });
    const [ran] = await handler(event, lambdaContext(undefined, 'req-1'));
    expect(ran).toMatchObject({ jobId: id, status: 'succeeded' });
  });

  it('runs a job once when the same event is delivered to two invocations at the same time', async () => {
    const event = await fixture.server.upload('inputs/starry/race.jpg', await jpeg(), TINY_METADATA);
    const outcomes = await Promise.all([
      handler(event, lambdaContext(undefined, 'req-a')),
      handler(event, lambdaContext(undefined, 'req-b')),
    ]);
    const statuses = outcomes
      .flat()
      .map((o) => o.status)
      .sort();
    expect(statuses).toEqual(['skipped', 'succeeded']);
    const manifest = await readJson<JobManifest>(
      fixture.server.store,
      `outputs/${outcomes[0][0].jobId}/job.json`,
    );
    expect(manifest.history.filter((t) => t.status === 'running')).toHaveLength(1);
    expect(sns.calls).toHaveLength(1);
  });

  it('runs two different jobs concurrently without interference', async () => {
    const a = await fixture.server.upload('inputs/starry/left.jpg', await jpeg(40, 32, 11), TINY_METADATA);
    const b = await fixture.server.upload('inputs/starry/right.png', await png(32, 40, 12), TINY_METADATA);
    const [[ra], [rb]] = await Promise.all([
      handler(a, lambdaContext(undefined, 'req-a')),
      handler(b, lambdaContext(undefined, 'req-b')),
    ]);
    expect([ra.status, rb.status]).toEqual(['succeeded', 'succeeded']);
    expect(await imageSize(fixture.server.store, `outputs/${ra.jobId}/result.jpg`)).toMatchObject({
      width: 32,
      height: 26,
    });
    expect(await imageSize(fixture.server.store, `outputs/${rb.jobId}/result.png`)).toMatchObject({
      width: 26,
      height: 32,
    });
    const ma = await readJson<JobManifest>(fixture.server.store, `outputs/${ra.jobId}/job.json`);
    const mb = await readJson<JobManifest>(fixture.server.store, `outputs/${rb.jobId}/job.json`);
    expect(ma.spec!.content).toBe('inputs/starry/left.jpg');
    expect(mb.spec!.content).toBe('inputs/starry/right.png');
    expect(
      notifications()
        .map((n) => n.jobId)
        .sort(),
    ).toEqual([ra.jobId, rb.jobId].sort());
  });

  it('a new upload of the same key is a new job', async () => {
    const first = await fixture.server.upload(
      'inputs/starry/again.jpg',
      await jpeg(40, 32, 1),
      TINY_METADATA,
    );
    const second = await fixture.server.upload(
      'inputs/starry/again.jpg',
      await jpeg(40, 32, 2),
      TINY_METADATA,
    );
    // The first event arrives late: its upload was replaced, and the newer upload is its own job.
    const [late] = await handler(first, lambdaContext());
    expect(late).toMatchObject({ status: 'failed', error: { code: 'INPUT_CHANGED' } });
    const [current] = await handler(second, lambdaContext());
    expect(current.status).toBe('succeeded');
    expect(current.jobId).not.toBe(late.jobId);
  });
});

describe('observability', () => {
  it('logs JSON lines with the job id and publishes EMF metrics: duration, iterations per second, failures', async () => {
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation(capture),
      vi.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    const metrics = quietMetrics();
    const observed = testHandler(fixture.weightsDir, {
      s3: fixture.server.s3.client,
      sns: sns.client,
      logger: new Logger({ serviceName: 'nst-test', logLevel: 'INFO' }),
      metrics,
    });
    let jobs: string[];
    try {
      const good = await fixture.server.upload('inputs/starry/good.jpg', await jpeg(), TINY_METADATA);
      const bad = await fixture.server.upload('inputs/starry/bad.jpg', 'not an image', TINY_METADATA);
      const [a] = await observed(good, lambdaContext(undefined, 'req-good'));
      const [b] = await observed(bad, lambdaContext(undefined, 'req-bad'));
      jobs = [a.jobId!, b.jobId!];
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const logs = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs).toHaveLength(3);
    for (const log of logs) {
      expect(jobs).toContain(log.jobId);
      expect(log).toMatchObject({ service: 'nst-test', function_request_id: expect.stringMatching(/^req-/) });
    }
    expect(logs.filter((l) => l.jobId === jobs[0]).map((l) => l.message)).toEqual([
      'job running',
      'job succeeded',
    ]);
    expect(logs.filter((l) => l.jobId === jobs[1])).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'job failed',
        code: 'IMAGE_UNSUPPORTED',
        detail: 'IMAGE_UNSUPPORTED',
      }),
    ]);

    expect(metrics.published).toHaveLength(2);
    const [success, failure] = metrics.published;
    expect(success._aws.CloudWatchMetrics[0].Namespace).toBe('NstTest');
    expect(success._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name)).toEqual([
      'JobSucceeded',
      'JobDuration',
      'IterationsPerSecond',
    ]);
    expect(success).toMatchObject({
      JobSucceeded: 1,
      JobDuration: expect.any(Number),
      IterationsPerSecond: expect.any(Number),
    });
    expect(success.IterationsPerSecond as number).toBeGreaterThan(0);
    expect(failure).toMatchObject({ JobFailed: 1, errorCode: 'IMAGE_UNSUPPORTED' });
  });
});
