/**
 * Deadlines and routing through the Lambda handler and the Batch worker, against a real local S3 server:
 * jobs that do not fit go to AWS Batch (or fail fast without it), a run near the Lambda deadline
 * checkpoints to S3 and continues in a new invocation or on Batch, Batch failures are recorded, and
 * stale locks are taken over. Batch and Lambda calls are captured with their exact parameters.
 */
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { runBatchWorker } from '../../functions/batch/main.js';
import type { StylizeHandler } from '../../functions/stylize/index.js';
import { createEngine } from '../../src/engine/index.js';
import type { StyleEngine } from '../../src/engine/types.js';
import type { LockRecord } from '../../src/jobs/lifecycle/lock.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import type { WorkerDeps } from '../../src/jobs/run/run-context.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { BATCH_DEFINITION, BATCH_ENV, BATCH_QUEUE, batchStateChange } from '../helpers/batch-events.js';
import { BUCKET, readJson } from '../helpers/local-s3.js';
import {
  captured,
  imageSize,
  jpeg,
  lambdaContext,
  quietLogger,
  recordPuts,
  TINY_METADATA,
  TOPIC,
  testHandler,
  usePipelineFixture,
} from './harness.js';

const fixture = usePipelineFixture();

/** Two scales (32 px, then 45 px), 3 iterations each. */
const TWO_SCALES = {
  'nst-size': '45',
  'nst-min-size': '32',
  'nst-scale-growth': '1.4142',
  'nst-iterations': '3',
};

let sns: ReturnType<typeof captured.sns>;
let events: ReturnType<typeof captured.eventBridge>;
let batch: ReturnType<typeof captured.batch>;
let lambda: ReturnType<typeof captured.lambda>;

beforeEach(async () => {
  sns = captured.sns();
  events = captured.eventBridge();
  batch = captured.batch();
  lambda = captured.lambda();
});

function handlerWith(env: Record<string, string> = {}, engines?: WorkerDeps['createEngine']): StylizeHandler {
  return testHandler(fixture.weightsDir, {
    env: { NST_EVENT_BUS: 'default', ...env },
    createEngine: engines,
    s3: fixture.server.s3.client,
    sns: sns.client,
    eventBridge: events.client,
    batch: batch.client,
    lambda: lambda.client,
  });
}

/** The events' detail-types the handlers put, in order. */
const detailTypes = () =>
  events.calls.flatMap((c) => (c.input.Entries as { DetailType: string }[]).map((e) => e.DetailType));

const worker = (jobId: string) =>
  runBatchWorker({
    env: {
      NST_BUCKET: BUCKET,
      NST_JOB_ID: jobId,
      NST_WEIGHTS_DIR: fixture.weightsDir,
      NST_TOPIC_ARN: TOPIC,
      AWS_BATCH_JOB_ID: 'batch-job-1',
    },
    s3: fixture.server.s3.client,
    sns: sns.client,
    logger: quietLogger(),
  });

/** A context whose clock runs fast: plenty of time while routing, then 30 s left (under the 60 s margin). */
function contextNearingDeadline(requestId = 'req-1') {
  let calls = 0;
  return lambdaContext(() => (++calls <= 2 ? 900_000 : 30_000), requestId);
}

/**
 * The real engines, watched: the size of each engine built, and a hook run on every evaluation and when
 * an engine is disposed (a scale ended).
 */
function watchedEngines(hooks: { onEvaluation?: () => Promise<void>; onDispose?: () => void } = {}) {
  const built: string[] = [];
  const create: WorkerDeps['createEngine'] = async (choice, spec) => {
    const engine = await createEngine(choice, spec);
    built.push(`${spec.width}x${spec.height}`);
    const watched: StyleEngine = {
      kind: engine.kind,
      backend: engine.backend,
      width: engine.width,
      height: engine.height,
      async lossAndGradient(x) {
        await hooks.onEvaluation?.();
        return engine.lossAndGradient(x);
      },
      dispose() {
        engine.dispose();
        hooks.onDispose?.();
      },
    };
    return watched;
  };
  return { built, create };
}

/** 60.5 s left: half a second after the 60 s margin, less than any job needs. */
const almostOutOfTime = () => lambdaContext(() => 60_500);

describe('routing with the cost model', () => {
  it('hands a job that will not fit to AWS Batch, which runs it', async () => {
    const event = await fixture.server.upload('inputs/starry/large.jpg', await jpeg(), TINY_METADATA);
    const jobId = jobIdFor({
      bucket: BUCKET,
      key: 'inputs/starry/large.jpg',
      etag: event.Records[0].s3.object.eTag,
    });
    expect(await handlerWith(BATCH_ENV)(event, almostOutOfTime())).toEqual([
      { jobId, status: 'queued', detail: 'batch batch-job-1' },
    ]);
    expect(batch.calls).toEqual([
      {
        command: 'SubmitJobCommand',
        input: {
          jobName: `nst-${jobId}`,
          jobQueue: BATCH_QUEUE,
          jobDefinition: BATCH_DEFINITION,
          parameters: { NST_BUCKET: BUCKET, NST_JOB_ID: jobId },
          containerOverrides: {
            environment: [
              { name: 'NST_BUCKET', value: BUCKET },
              { name: 'NST_JOB_ID', value: jobId },
            ],
          },
        },
      },
    ]);
    const queued = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(queued).toMatchObject({
      status: 'queued',
      batch: { jobId: 'batch-job-1', jobQueue: BATCH_QUEUE },
    });
    expect(queued.history.at(-1)!.detail).toMatch(
      /^AWS Batch job batch-job-1: estimated \d+ s, 1 s available here$/,
    );
    expect(await readJson<LockRecord>(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'handoff',
      to: 'batch',
    });
    expect(await fixture.server.outputs(jobId)).not.toContain(`outputs/${jobId}/result.jpg`);
    expect(sns.calls).toEqual([]);

    // A duplicate of the event while Batch has the job does not take it back.
    expect(await handlerWith(BATCH_ENV)(event, lambdaContext())).toEqual([
      { jobId, status: 'skipped', detail: 'handed-off' },
    ]);

    expect(await worker(jobId)).toBe(0);
    const done = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(done).toMatchObject({ status: 'succeeded', route: { worker: 'batch' }, runs: 1 });
    expect(done.history.map((t) => t.status)).toEqual(['queued', 'queued', 'running', 'succeeded']);
    expect(await imageSize(fixture.server.store, `outputs/${jobId}/result.jpg`)).toMatchObject({
      width: 32,
      height: 26,
    });
    expect(sns.calls).toHaveLength(1);
  });

  it('fails fast with JOB_TOO_LARGE when no Batch queue is configured', async () => {
    const event = await fixture.server.upload('inputs/starry/large.jpg', await jpeg(), TINY_METADATA);
    const [outcome] = await handlerWith()(event, almostOutOfTime());
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'JOB_TOO_LARGE' } });
    expect(outcome.error!.message).toMatch(
      /needs about \d+ s and \d+ MB of memory here \(a job here may use \d+ s of its 1 s.*AWS Batch is not configured.*: lower size, iterations/,
    );
    expect(batch.calls).toEqual([]);
    expect(JSON.parse(String(sns.calls[0].input.Message))).toMatchObject({
      status: 'failed',
      error: { code: 'JOB_TOO_LARGE' },
    });
  });
});

describe('the Lambda deadline', () => {
  it('checkpoints to S3 and continues in a new invocation', async () => {
    const event = await fixture.server.upload('inputs/starry/long.jpg', await jpeg(), TWO_SCALES);
    const context = contextNearingDeadline();
    const puts = recordPuts(fixture.server.s3.client);
    const [outcome] = await handlerWith()(event, context);
    const jobId = outcome.jobId!;
    expect(outcome).toEqual({ jobId, status: 'queued', detail: 'continuation from scale 1, iteration 1' });

    expect(lambda.calls).toHaveLength(1);
    const { command, input } = lambda.calls[0];
    expect(command).toBe('InvokeCommand');
    expect(Object.keys(input).sort()).toEqual(['FunctionName', 'InvocationType', 'Payload']);
    expect(input.FunctionName).toBe(context.invokedFunctionArn);
    expect(input.InvocationType).toBe('Event');
    const payload = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'));
    expect(payload).toEqual({ nstContinuation: { bucket: BUCKET, jobId } });

    const queued = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(queued).toMatchObject({
      status: 'queued',
      continuations: 1,
      iterations: 1,
      checkpoint: { scaleIndex: 0, iteration: 1 },
    });
    expect(await readJson(fixture.server.store, `outputs/${jobId}/checkpoint.json`)).toMatchObject({
      scaleIndex: 0,
      iteration: 1,
      width: 32,
      height: 26,
    });
    expect(await imageSize(fixture.server.store, `outputs/${jobId}/checkpoints/0-1.png`)).toEqual({
      width: 32,
      height: 26,
      format: 'png',
    });
    // The image first, under its own key, then the record naming it.
    const tagged = puts.filter((p) => p.tagging === 'nst-temporary=true').map((p) => p.key);
    expect(tagged).toEqual([`outputs/${jobId}/checkpoints/0-1.png`, `outputs/${jobId}/checkpoint.json`]);
    expect(await fixture.server.outputs(jobId)).not.toContain(`outputs/${jobId}/result.jpg`);
    expect(await readJson<LockRecord>(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'handoff',
      to: 'continuation',
    });
    expect(sns.calls).toEqual([]);
    expect(detailTypes()).toEqual(['Style Transfer Job Started']);

    // The continuation (the captured payload, delivered to a new invocation) finishes the job.
    expect(await handlerWith()(payload, lambdaContext(undefined, 'req-2'))).toEqual([
      { jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` },
    ]);
    const done = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(done.history.map((t) => t.status)).toEqual([
      'queued',
      'running',
      'queued',
      'running',
      'succeeded',
    ]);
    expect(done.history[3].detail).toBe('lambda run 2 from scale 1, iteration 1');
    // 1 iteration before the deadline, then the 2 left at the first scale and 3 at the second.
    expect(done).toMatchObject({
      runs: 2,
      continuations: 1,
      iterations: 6,
      output: { width: 45, height: 36 },
    });
    expect(sns.calls).toHaveLength(1);
    // The second run is not a start of the job: one Started, one Succeeded.
    expect(detailTypes()).toEqual(['Style Transfer Job Started', 'Style Transfer Job Succeeded']);
  });

  it('stops before a scale whose set-up and first evaluations would overrun the margin', async () => {
    const event = await fixture.server.upload('inputs/starry/scales.jpg', await jpeg(), TWO_SCALES);
    // Plenty of time for the first scale; once it is done, 1 s past the 60 s margin: enough for another
    // iteration by the per-iteration check, not for building the 45 px engine and a few evaluations.
    let firstScaleDone = false;
    const engines = watchedEngines({ onDispose: () => (firstScaleDone = true) });
    const context = lambdaContext(() => (firstScaleDone ? 61_000 : 900_000));
    const [outcome] = await handlerWith({}, engines.create)(event, context);
    const jobId = outcome.jobId!;
    expect(outcome).toEqual({ jobId, status: 'queued', detail: 'continuation from scale 2, iteration 0' });
    expect(engines.built).toEqual(['32x26']); // the second scale's engine was never built
    expect(await readJson(fixture.server.store, `outputs/${jobId}/checkpoint.json`)).toMatchObject({
      scaleIndex: 1,
      iteration: 0,
      width: 45,
      height: 36,
      image: `outputs/${jobId}/checkpoints/1-0.png`,
    });
    expect(await imageSize(fixture.server.store, `outputs/${jobId}/checkpoints/1-0.png`)).toMatchObject({
      width: 45,
      height: 36,
    });
    const payload = JSON.parse(Buffer.from(lambda.calls[0].input.Payload as Uint8Array).toString('utf8'));
    const [done] = await handlerWith()(payload, lambdaContext(undefined, 'req-2'));
    expect(done).toEqual({ jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` });
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(manifest.history[3].detail).toBe('lambda run 2 from scale 2, iteration 0');
    expect(manifest).toMatchObject({ iterations: 6, output: { width: 45, height: 36 } });
    expect(sns.calls).toHaveLength(1);
  });

  it('a checkpoint that does not match the job is not used: the job starts over and finishes', async () => {
    const event = await fixture.server.upload('inputs/starry/bad-checkpoint.jpg', await jpeg(), TWO_SCALES);
    const [outcome] = await handlerWith()(event, contextNearingDeadline());
    const jobId = outcome.jobId!;
    expect(outcome.status).toBe('queued');
    // The record now names the second scale's size while its image is the first scale's.
    const record = await readJson(fixture.server.store, `outputs/${jobId}/checkpoint.json`);
    await fixture.server.store.putJson(`outputs/${jobId}/checkpoint.json`, {
      ...record,
      width: 45,
      height: 36,
    });
    const payload = JSON.parse(Buffer.from(lambda.calls[0].input.Payload as Uint8Array).toString('utf8'));
    const [done] = await handlerWith()(payload, lambdaContext(undefined, 'req-2'));
    expect(done).toEqual({ jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` });
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(manifest.history[3].detail).toBe('lambda run 2');
    expect(manifest.output).toMatchObject({ width: 45, height: 36 });
    expect(sns.calls).toHaveLength(1);
  });

  it('a job spec with style masks checkpoints, and its continuation reads the masks again', async () => {
    await fixture.server.store.put('inputs/masked.jpg', await jpeg(48, 36, 3));
    const mask = (top: boolean) =>
      sharp({ create: { width: 16, height: 12, channels: 3, background: top ? '#fff' : '#000' } })
        .extend({ bottom: 12, background: top ? '#000' : '#fff' })
        .grayscale()
        .png()
        .toBuffer();
    await fixture.server.store.put('styles/masks/sky.png', await mask(true));
    await fixture.server.store.put('inputs/masks/ground.png', await mask(false));
    const spec = {
      content: 'inputs/masked.jpg',
      styles: [
        { key: 'styles/starry.png', mask: 'styles/masks/sky.png' },
        { key: 'styles/starry.png', weight: 0.5, mask: 'inputs/masks/ground.png' },
      ],
      options: { size: 45, minSize: 32, scaleGrowth: Math.SQRT2, iterations: 3 },
    };
    const event = await fixture.server.upload('jobs/masked.json', JSON.stringify(spec));
    const [outcome] = await handlerWith()(event, contextNearingDeadline());
    const jobId = outcome.jobId!;
    expect(outcome).toEqual({ jobId, status: 'queued', detail: 'continuation from scale 1, iteration 1' });

    const masks: string[][] = [];
    const engines: WorkerDeps['createEngine'] = async (choice, engineSpec) => {
      masks.push(engineSpec.styles.map((s) => (s.mask ? `${s.mask.width}x${s.mask.height}` : 'none')));
      return createEngine(choice, engineSpec);
    };
    const payload = JSON.parse(Buffer.from(lambda.calls[0].input.Payload as Uint8Array).toString('utf8'));
    const [done] = await handlerWith({}, engines)(payload, lambdaContext(undefined, 'req-2'));
    expect(done).toEqual({ jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` });
    // The continuation resumed at the first scale and ran the second, each with both masks at its size.
    expect(masks).toEqual([
      ['32x24', '32x24'],
      ['45x34', '45x34'],
    ]);
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(manifest).toMatchObject({
      runs: 2,
      iterations: 6,
      spec: { styles: spec.styles.map((s) => ({ weight: 1, ...s })) },
    });
  });

  it('continues on AWS Batch when a queue is configured', async () => {
    const event = await fixture.server.upload('inputs/starry/long.jpg', await jpeg(), TWO_SCALES);
    const [outcome] = await handlerWith(BATCH_ENV)(event, contextNearingDeadline());
    const jobId = outcome.jobId!;
    expect(outcome).toEqual({ jobId, status: 'queued', detail: 'batch batch-job-1' });
    expect(lambda.calls).toEqual([]);
    expect(batch.calls.map((c) => c.input.jobName)).toEqual([`nst-${jobId}`]);
    const queued = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(queued.history.at(-1)!.detail).toBe('AWS Batch job batch-job-1: deadline at scale 1, iteration 1');

    expect(await worker(jobId)).toBe(0);
    const done = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(done).toMatchObject({ status: 'succeeded', runs: 2, iterations: 6, route: { worker: 'batch' } });
    expect(done.history[3].detail).toBe('batch run 2 from scale 1, iteration 1');
  });

  it('fails with JOB_TOO_LARGE when the continuations run out', async () => {
    const event = await fixture.server.upload('inputs/starry/long.jpg', await jpeg(), TWO_SCALES);
    const [outcome] = await handlerWith({ NST_MAX_CONTINUATIONS: '0' })(event, contextNearingDeadline());
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'JOB_TOO_LARGE' } });
    expect(outcome.error!.message).toContain('did not finish in 1 Lambda invocations');
    expect(lambda.calls).toEqual([]);
    expect(sns.calls).toHaveLength(1);
  });
});

describe('Batch failures and stale locks', () => {
  it('marks the job failed when its Batch job fails', async () => {
    const event = await fixture.server.upload('inputs/starry/gpu.jpg', await jpeg(), TINY_METADATA);
    const [queued] = await handlerWith(BATCH_ENV)(event, almostOutOfTime());
    const jobId = queued.jobId!;
    const batchEvent = batchStateChange({ jobId, bucket: BUCKET, reason: 'Host EC2 instance terminated' });
    const [outcome] = await handlerWith(BATCH_ENV)(batchEvent, lambdaContext());
    expect(outcome).toEqual({
      jobId,
      status: 'failed',
      error: {
        code: 'BATCH_JOB_FAILED',
        message: 'AWS Batch job batch-job-1 failed: Host EC2 instance terminated',
      },
    });
    expect((await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`)).status).toBe(
      'failed',
    );
    expect(JSON.parse(String(sns.calls[0].input.Message))).toMatchObject({
      jobId,
      status: 'failed',
      error: { code: 'BATCH_JOB_FAILED' },
    });
    // Other Batch state changes are not ours to act on.
    expect(
      await handlerWith(BATCH_ENV)(
        batchStateChange({ jobId, bucket: BUCKET, status: 'RUNNABLE' }),
        lambdaContext(),
      ),
    ).toEqual([]);
  });

  it('takes over a job whose worker died (expired lease), but not a live one', async () => {
    const event = await fixture.server.upload('inputs/starry/stale.jpg', await jpeg(), TINY_METADATA);
    const jobId = jobIdFor({
      bucket: BUCKET,
      key: 'inputs/starry/stale.jpg',
      etag: event.Records[0].s3.object.eTag,
    });
    const lock = (leaseExpiresAt: string): LockRecord => ({
      jobId,
      state: 'held',
      owner: 'dead-worker',
      leaseExpiresAt,
      updatedAt: leaseExpiresAt,
    });
    const etag = await fixture.server.store.putJson(
      `outputs/${jobId}/lock.json`,
      lock(new Date(Date.now() + 60_000).toISOString()),
    );
    expect(await handlerWith()(event, lambdaContext())).toEqual([
      { jobId, status: 'skipped', detail: 'running' },
    ]);

    await fixture.server.store.putJson(
      `outputs/${jobId}/lock.json`,
      lock(new Date(Date.now() - 1000).toISOString()),
      {
        ifMatch: etag,
      },
    );
    expect(await handlerWith()(event, lambdaContext(undefined, 'req-retry'))).toEqual([
      { jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` },
    ]);
    expect(await readJson(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'done',
      owner: 'req-retry',
    });
  });

  it('a worker whose lock is taken over mid-run writes no result and no job.json', async () => {
    const event = await fixture.server.upload('inputs/starry/fenced.jpg', await jpeg(), TINY_METADATA);
    const jobId = jobIdFor({
      bucket: BUCKET,
      key: 'inputs/starry/fenced.jpg',
      etag: event.Records[0].s3.object.eTag,
    });
    const lockKey = `outputs/${jobId}/lock.json`;
    let running: string | undefined;
    let evaluations = 0;
    const engines = watchedEngines({
      // At the second evaluation, another worker takes the job over (its lease lapsed, say).
      onEvaluation: async () => {
        if (++evaluations !== 2) return;
        running = (await fixture.server.store.get(`outputs/${jobId}/job.json`))!.body.toString();
        const lock = await readJson<LockRecord>(fixture.server.store, lockKey);
        await fixture.server.store.putJson(lockKey, {
          ...lock,
          owner: 'other-worker',
          leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
        });
      },
    });
    const [outcome] = await handlerWith({}, engines.create)(event, lambdaContext());
    expect(outcome).toEqual({ jobId, status: 'skipped', detail: 'lock lost' });
    expect(running).toContain('"status": "running"');
    // job.json is as the takeover found it, no result, the lock is the other worker's, no notification.
    expect((await fixture.server.store.get(`outputs/${jobId}/job.json`))!.body.toString()).toBe(running);
    expect((await fixture.server.outputs(jobId)).filter((k) => k.includes('result.'))).toEqual([]);
    expect(await readJson<LockRecord>(fixture.server.store, lockKey)).toMatchObject({
      owner: 'other-worker',
      state: 'held',
    });
    expect(sns.calls).toEqual([]);
  });

  it('the Batch worker refuses to start without its job', async () => {
    expect(await runBatchWorker({ env: { NST_BUCKET: BUCKET }, logger: quietLogger() })).toBe(2);
    expect(
      await runBatchWorker({ env: { NST_BUCKET: BUCKET, NST_JOB_ID: '../../etc' }, logger: quietLogger() }),
    ).toBe(2);
  });
});
