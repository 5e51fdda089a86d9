/**
 * Failures through the Lambda handler against a real local S3 server. Permanent input errors end as a
 * failed job.json with an actionable code, a failure notification and a successful invocation (no retry);
 * transient errors (S3 or SNS unavailable) throw, leave no partial output, and a retry finishes the job.
 */
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import type { createStylizeHandler, StylizeHandler } from '../../functions/stylize/index.js';
import { createEngine } from '../../src/engine/index.js';
import type { StyleEngine } from '../../src/engine/types.js';
import { NstError } from '../../src/errors.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { PIPELINE_LIMITS } from '../../src/jobs/spec/spec.js';
import { startLocalS3 } from '../../src/storage/local-s3.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { BUCKET, readJson } from '../helpers/local-s3.js';
import { failReads } from '../helpers/s3-faults.js';
import {
  captured,
  jpeg,
  lambdaContext,
  png,
  TINY,
  TINY_METADATA,
  TOPIC,
  testHandler,
  usePipelineFixture,
} from './harness.js';

const fixture = usePipelineFixture();

let sns: ReturnType<typeof captured.sns>;

beforeEach(async () => {
  sns = captured.sns();
});

type EngineFactory = NonNullable<NonNullable<Parameters<typeof createStylizeHandler>[0]>['createEngine']>;

function handlerWith(
  opts: { env?: Record<string, string>; createEngine?: EngineFactory } = {},
): StylizeHandler {
  return testHandler(fixture.weightsDir, {
    env: opts.env,
    s3: fixture.server.s3.client,
    sns: sns.client,
    createEngine: opts.createEngine,
  });
}

/** Runs the event and checks what every permanent failure must look like; returns the error message. */
async function expectFailed(
  key: string,
  body: Buffer | string,
  code: string,
  metadata: Record<string, string> = TINY_METADATA,
  opts: { env?: Record<string, string>; createEngine?: EngineFactory } = {},
): Promise<string> {
  const event = await fixture.server.upload(key, body, metadata);
  const handler = handlerWith({ ...opts, env: { NST_MAX_PIXELS: '2000', ...opts.env } });
  const outcomes = await handler(event, lambdaContext());
  expect(outcomes).toHaveLength(1);
  const [outcome] = outcomes;
  expect(outcome).toMatchObject({ status: 'failed', error: { code } });
  const jobId = outcome.jobId!;
  const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
  expect(manifest.status).toBe('failed');
  expect(manifest.error).toEqual(outcome.error);
  expect(manifest.history.at(-1)).toMatchObject({ status: 'failed', detail: code });
  // No result, a done lock, and one failure notification with the code.
  expect((await fixture.server.outputs(jobId)).filter((k) => k.includes('result'))).toEqual([]);
  expect(await readJson(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({ state: 'done' });
  expect(sns.calls).toHaveLength(1);
  const message = JSON.parse(String(sns.calls[0].input.Message));
  expect(message).toMatchObject({ jobId, status: 'failed', error: { code } });
  expect(sns.calls[0].input.MessageAttributes).toEqual({
    status: { DataType: 'String', StringValue: 'failed' },
    jobId: { DataType: 'String', StringValue: jobId },
  });
  return outcome.error!.message;
}

describe('permanent input errors: a failed job, a notification, no retry', () => {
  it('corrupt image', async () => {
    const truncated = (await jpeg(40, 32)).subarray(0, 200);
    expect(await expectFailed('inputs/starry/truncated.jpg', truncated, 'IMAGE_CORRUPT')).toContain(
      'inputs/starry/truncated.jpg',
    );
  });

  it('zero-byte file', async () => {
    expect(await expectFailed('inputs/starry/empty.jpg', Buffer.alloc(0), 'IMAGE_EMPTY')).toContain(
      'inputs/starry/empty.jpg',
    );
  });

  it('not an image', async () => {
    await expectFailed('inputs/starry/notes.jpg', 'these are my notes, not a photo', 'IMAGE_UNSUPPORTED');
  });

  it('too many pixels (NST_MAX_PIXELS)', async () => {
    expect(await expectFailed('inputs/starry/big.jpg', await jpeg(60, 50), 'IMAGE_TOO_LARGE')).toMatch(
      /60x50/,
    );
  });

  it('bad options in metadata: every problem listed', async () => {
    const message = await expectFailed('inputs/starry/opts.jpg', await jpeg(), 'INVALID_OPTION', {
      'nst-size': 'big',
      'nst-pooling': 'median',
      'nst-colour': 'blue',
    });
    expect(message).toContain('x-amz-meta-nst-size');
    expect(message).toContain('"big"');
    expect(message).toContain('x-amz-meta-nst-pooling');
    expect(message).toContain('x-amz-meta-nst-colour: not an option');
  });

  it('missing style painting', async () => {
    const message = await expectFailed('inputs/monet/photo.jpg', await jpeg(), 'STYLE_NOT_FOUND');
    expect(message).toContain(`s3://${BUCKET}/styles/monet`);
  });

  it('a missing style mask of a job spec is named, like a missing painting', async () => {
    await fixture.server.store.put('inputs/content.jpg', await jpeg(40, 32, 3));
    const spec = {
      content: 'inputs/content.jpg',
      styles: [{ key: 'styles/starry.png', mask: 'styles/masks/nowhere.png' }],
      options: { size: 32, minSize: 32, iterations: 3 },
    };
    const message = await expectFailed('jobs/no-mask.json', JSON.stringify(spec), 'STYLE_NOT_FOUND');
    expect(message).toBe(`style mask s3://${BUCKET}/styles/masks/nowhere.png does not exist`);
  });

  it('a damaged style painting is named', async () => {
    await fixture.server.store.put('styles/broken.jpg', (await jpeg(40, 40)).subarray(0, 300));
    expect(await expectFailed('inputs/broken/photo.jpg', await jpeg(), 'IMAGE_CORRUPT')).toContain(
      'styles/broken.jpg',
    );
  });

  it("a photo outside inputs/<style>/: the message says where drop-ins go and where a spec's photo goes", async () => {
    const message = await expectFailed('inputs/photo.jpg', await jpeg(), 'INVALID_JOB_SPEC');
    expect(message).toContain('put photos at inputs/<style>/<name>.jpg');
    expect(message).toContain("a spec's photo belongs under assets/, where it starts nothing");
  });

  it('a job spec that is not JSON', async () => {
    expect(await expectFailed('jobs/broken.json', '{"content": ', 'INVALID_JOB_SPEC')).toContain(
      'not valid JSON',
    );
  });

  it('a job spec with several problems lists them all', async () => {
    const spec = {
      styles: [{ key: 's3://other/x.jpg', weight: -1 }],
      options: { size: 99999, colour: 'blue' },
      extra: 1,
    };
    const message = await expectFailed('jobs/bad.json', JSON.stringify(spec), 'INVALID_JOB_SPEC');
    for (const problem of [
      'content',
      'styles.0.key',
      'styles.0.weight',
      'options.size',
      'options',
      'colour',
      'extra',
    ]) {
      expect(message).toContain(problem);
    }
  });

  it('a job spec naming a missing content photo or style', async () => {
    const spec = { content: 'inputs/nothing.jpg', styles: [{ key: 'styles/starry.png' }], options: TINY };
    expect(await expectFailed('jobs/missing.json', JSON.stringify(spec), 'IMAGE_NOT_FOUND')).toContain(
      'inputs/nothing.jpg',
    );
    sns.calls.length = 0;
    await fixture.server.store.put('inputs/here.jpg', await jpeg());
    const noStyle = { content: 'inputs/here.jpg', styles: [{ key: 'styles/nothing.jpg' }], options: TINY };
    expect(await expectFailed('jobs/nostyle.json', JSON.stringify(noStyle), 'STYLE_NOT_FOUND')).toContain(
      'styles/nothing.jpg',
    );
  });

  it('ignores keys that are not jobs (folders, other files under jobs/)', async () => {
    const handler = handlerWith();
    const folder = await fixture.server.upload('inputs/starry/', '');
    const readme = await fixture.server.upload('jobs/README.txt', 'hello');
    expect(await handler(folder, lambdaContext())).toEqual([
      { key: 'inputs/starry/', status: 'skipped', detail: 'not a job' },
    ]);
    expect(await handler(readme, lambdaContext())).toEqual([
      { key: 'jobs/README.txt', status: 'skipped', detail: 'not a job' },
    ]);
    expect(await fixture.server.store.list('outputs/')).toEqual([]);
  });
});

describe('limits: each a failed job with its code, a notification, no retry', () => {
  /** An engine factory that counts the engines built, and builds none. */
  const countingEngines = () => {
    const built: string[] = [];
    const factory: EngineFactory = async (_choice, spec) => {
      built.push(`${spec.width}x${spec.height}`);
      throw new Error('no engine should be built');
    };
    return { built, factory };
  };
  const spec = (content: string, style = 'styles/starry.png', options: object = TINY) =>
    JSON.stringify({ content, styles: [{ key: style }], options });

  it('a job spec naming keys outside assets/, inputs/ and styles/ is refused before anything is read', async () => {
    const message = await expectFailed(
      'jobs/outside.json',
      JSON.stringify({ content: 'photo.jpg', styles: [{ key: 'inputs/starry.png' }], options: TINY }),
      'INVALID_JOB_SPEC',
    );
    expect(message).toContain('content: must be an object key in this bucket under assets/ or inputs/');
    expect(message).toContain('styles.0.key: must be an object key in this bucket under styles/');
  });

  it('AccessDenied on a content photo or a style painting is an input error naming the key', async () => {
    await fixture.server.store.put('inputs/private/photo.jpg', await jpeg());
    await fixture.server.store.put('styles/private.png', await png(48, 48, 5));
    failReads(fixture.server.s3.client, (key) => key.includes('private'));
    const photo = await expectFailed('jobs/denied.json', spec('inputs/private/photo.jpg'), 'IMAGE_NOT_FOUND');
    expect(photo).toContain(`s3://${BUCKET}/inputs/private/photo.jpg cannot be read: access denied`);
    expect(photo).toContain(
      'the pipeline reads photos and masks under assets/ or inputs/ and paintings under styles/ only',
    );
    sns.calls.length = 0;
    await fixture.server.store.put('inputs/here.jpg', await jpeg());
    const style = await expectFailed(
      'jobs/denied-style.json',
      spec('inputs/here.jpg', 'styles/private.png'),
      'STYLE_NOT_FOUND',
    );
    expect(style).toContain(`style painting s3://${BUCKET}/styles/private.png cannot be read: access denied`);
  });

  it('an upload the function may not read (AccessDenied on the drop-in itself) fails, not retried', async () => {
    failReads(fixture.server.s3.client, (key) => key === 'inputs/starry/locked.jpg');
    const message = await expectFailed('inputs/starry/locked.jpg', await jpeg(), 'IMAGE_NOT_FOUND');
    expect(message).toMatch(
      /photo s3:\/\/.*inputs\/starry\/locked\.jpg cannot be read: access denied \(Access Denied\)/,
    );
  });

  it('an object over NST_MAX_INPUT_BYTES is refused before download: photo, style, job spec', async () => {
    const env = { NST_MAX_INPUT_BYTES: '400' };
    const big = await jpeg(40, 32);
    expect(big.length).toBeGreaterThan(400);
    const photo = await expectFailed('inputs/starry/big.jpg', big, 'INPUT_TOO_LARGE', TINY_METADATA, { env });
    expect(photo).toContain(
      `photo s3://${BUCKET}/inputs/starry/big.jpg is ${big.length} bytes, over the limit of 400 bytes (NST_MAX_INPUT_BYTES)`,
    );
    expect(photo).toContain('NST_MAX_INPUT_BYTES');
    sns.calls.length = 0;
    const painting = await png(48, 48, 5);
    expect(painting.length).toBeGreaterThan(400);
    await fixture.server.store.put(
      'inputs/small.png',
      await sharp({ create: { width: 20, height: 16, channels: 3, background: '#777' } })
        .png()
        .toBuffer(),
    );
    const style = await expectFailed(
      'jobs/big-style.json',
      spec('inputs/small.png'),
      'INPUT_TOO_LARGE',
      {},
      { env },
    );
    expect(style).toContain(`style painting s3://${BUCKET}/styles/starry.png is`);
    sns.calls.length = 0;
    const huge = JSON.stringify({
      content: 'inputs/small.png',
      styles: [{ key: 'styles/starry.png' }],
      pad: 'x'.repeat(1024 * 1024),
    });
    expect(await expectFailed('jobs/huge.json', huge, 'INPUT_TOO_LARGE')).toContain(
      'over the limit of 1.0 MiB (1048576 bytes) for a job spec',
    );
  });

  it('the style-image bomb (a tiny 20000x2 PNG) is refused from its header, before any engine is built', async () => {
    const bomb = await sharp({ create: { width: 20_000, height: 2, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    expect(bomb.length).toBeLessThan(2000);
    await fixture.server.store.put('styles/bomb.png', bomb);
    const { built, factory } = countingEngines();
    const started = performance.now();
    const message = await expectFailed(
      'inputs/bomb/photo.jpg',
      await jpeg(),
      'IMAGE_TOO_LARGE',
      {
        'nst-size': '64',
      },
      // The bomb has 40,000 pixels, far under the pixel limit: only its shape gives it away.
      { createEngine: factory, env: { NST_MAX_PIXELS: '40000000' } },
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(message).toBe(
      'styles/bomb.png is 20000x2, an aspect ratio of 10000:1, over the limit of 32:1: crop it first',
    );
    expect(built).toEqual([]);
  });

  it('saveEvery under the minimum in metadata', async () => {
    const message = await expectFailed('inputs/starry/frames.jpg', await jpeg(), 'INVALID_OPTION', {
      ...TINY_METADATA,
      'nst-save-every': '1',
    });
    expect(message).toContain('x-amz-meta-nst-save-every: must be 0 (no frames) or at least 10');
  });
});

describe('limits that shape a run', () => {
  it(`threads are clamped to the worker's cores; frames are spread to at most ${PIPELINE_LIMITS.maxFrames}`, async () => {
    // A fake engine, so 1100 Adam iterations take moments: saveEvery 10 would write 110 frames.
    const threads: (number | undefined)[] = [];
    const fake: EngineFactory = async (_choice, s) => {
      threads.push(s.threads);
      const terms = { content: 1, style: 1, tv: 0, total: 2 };
      return {
        kind: 'onnx',
        backend: 'fake',
        width: s.width,
        height: s.height,
        dispose: () => {},
        lossAndGradient: async (x) => ({ loss: 2, grad: new Float32Array(x.length).fill(1e-3), terms }),
      };
    };
    const options = { ...TINY, iterations: 1100, optimizer: 'adam', saveEvery: 10, threads: 256 };
    await fixture.server.store.put('inputs/shape.jpg', await jpeg());
    const event = await fixture.server.upload(
      'jobs/shape.json',
      JSON.stringify({ content: 'inputs/shape.jpg', styles: [{ key: 'styles/starry.png' }], options }),
    );
    const [outcome] = await handlerWith({ createEngine: fake })(event, lambdaContext());
    expect(outcome.status).toBe('succeeded');
    expect(threads).toEqual([availableParallelism()]);
    const frames = (await fixture.server.outputs(outcome.jobId!)).filter((k) => k.includes('/frames/'));
    expect(frames).toHaveLength(100);
    expect(frames[0]).toMatch(/frames\/00011\.jpg$/);
    expect(frames.at(-1)).toMatch(/frames\/01100\.jpg$/);
  });
});

describe('transient errors: thrown for the platform to retry, no partial output', () => {
  it('S3 going away mid-job', async () => {
    const event = await fixture.server.upload('inputs/starry/away.jpg', await jpeg(), TINY_METADATA);
    let closed = false;
    // The engine closes the S3 server at its first step: the run finishes, but nothing can be written.
    const closingEngine = async (...args: Parameters<typeof createEngine>): Promise<StyleEngine> => {
      const engine = await createEngine(...args);
      return {
        kind: engine.kind,
        backend: engine.backend,
        width: engine.width,
        height: engine.height,
        dispose: () => engine.dispose(),
        async lossAndGradient(x) {
          if (!closed) {
            closed = true;
            await fixture.server.s3.close();
          }
          return engine.lossAndGradient(x);
        },
      };
    };
    const handler = handlerWith({ createEngine: closingEngine, env: { NST_LOCK_LEASE_SECONDS: '1' } });
    const error = await handler(event, lambdaContext()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NstError);
    expect(error).toMatchObject({ code: 'STORAGE_UNAVAILABLE', kind: 'transient' });
    expect(sns.calls).toEqual([]);

    // The same data folder served again: no result, the job is still `running`, and a retry finishes it.
    const again = await startLocalS3({ dataDir: fixture.server.dataDir, bucket: BUCKET });
    try {
      const store = new ObjectStore(again.client, BUCKET);
      const keys = await store.list('outputs/');
      expect(keys.some((k) => k.includes('result'))).toBe(false);
      const jobId = keys[0].split('/')[1];
      expect((await readJson<JobManifest>(store, `outputs/${jobId}/job.json`)).status).toBe('running');
      const retry = testHandler(fixture.weightsDir, {
        env: { NST_LOCK_LEASE_SECONDS: '1' },
        s3: again.client,
        sns: sns.client,
      });
      // The lease of the failed invocation runs out; the retry takes the job over.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await retry(event, lambdaContext(undefined, 'req-retry'))).toEqual([
        { jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` },
      ]);
      expect(sns.calls).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('SNS unavailable: the invocation throws after job.json is written; the retry only notifies', async () => {
    let failures = 1;
    const flaky = captured.sns(() => {
      if (failures-- > 0)
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'Throttled',
          $metadata: { httpStatusCode: 400 },
        });
      return { MessageId: 'm-2' };
    });
    sns = flaky;
    const event = await fixture.server.upload('inputs/starry/sns.jpg', await jpeg(), TINY_METADATA);
    const handler = handlerWith();
    await expect(handler(event, lambdaContext())).rejects.toMatchObject({
      code: 'NOTIFICATION_FAILED',
      kind: 'transient',
    });
    const [outcome] = await handler(event, lambdaContext(undefined, 'req-retry'));
    expect(outcome).toMatchObject({ status: 'skipped', detail: 'finished' });
    expect(flaky.calls).toHaveLength(2);
    expect(JSON.parse(String(flaky.calls[1].input.Message))).toMatchObject({
      jobId: outcome.jobId,
      status: 'succeeded',
    });
    expect(await readJson(fixture.server.store, `outputs/${outcome.jobId}/lock.json`)).toMatchObject({
      state: 'done',
    });
  });
});

describe('notifications', () => {
  it('publishes to SNS with the exact parameters', async () => {
    const event = await fixture.server.upload('inputs/starry/notify.jpg', await jpeg(), TINY_METADATA);
    const [outcome] = await handlerWith()(event, lambdaContext());
    const jobId = outcome.jobId!;
    expect(sns.calls).toHaveLength(1);
    const { command, input } = sns.calls[0];
    expect(command).toBe('PublishCommand');
    expect(Object.keys(input).sort()).toEqual(['Message', 'MessageAttributes', 'Subject', 'TopicArn']);
    expect(input.TopicArn).toBe(TOPIC);
    expect(input.Subject).toBe('Style transfer job succeeded');
    expect(input.MessageAttributes).toEqual({
      status: { DataType: 'String', StringValue: 'succeeded' },
      jobId: { DataType: 'String', StringValue: jobId },
    });
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(JSON.parse(String(input.Message))).toEqual({
      jobId,
      status: 'succeeded',
      bucket: BUCKET,
      input: {
        source: 'inputs/starry/notify.jpg',
        content: 'inputs/starry/notify.jpg',
        styles: ['styles/starry.png'],
      },
      output: { uri: `s3://${BUCKET}/outputs/${jobId}/result.jpg`, ...manifest.output },
      manifest: `s3://${BUCKET}/outputs/${jobId}/job.json`,
      timings: manifest.timings,
      route: manifest.route,
      engine: manifest.engine,
    });
  });
});
