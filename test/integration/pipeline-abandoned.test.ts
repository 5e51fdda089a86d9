/**
 * Jobs whose workers cannot end them, through the Lambda handler against a real local S3 server: the
 * dead-letter queue's messages end a stuck job `failed` with JOB_ABANDONED and one notification; the
 * sweep resumes a stale job from its checkpoint or fails it; a Batch job cancelled for want of GPU
 * capacity ends with BATCH_NO_CAPACITY.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { StylizeFunctionOptions, StylizeHandler } from '../../functions/stylize/index.js';
import { readPipelineConfig } from '../../src/jobs/config.js';
import { acquireLock, type LockRecord } from '../../src/jobs/lifecycle/lock.js';
import { type JobManifest, newManifest, transition } from '../../src/jobs/lifecycle/manifest.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { sweepJobs } from '../../src/jobs/recovery/sweeper.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { buildWorkerDeps } from '../../src/jobs/wiring/build-deps.js';
import { BATCH_ENV, batchStateChange } from '../helpers/batch-events.js';
import { BUCKET, readJson } from '../helpers/local-s3.js';
import {
  captured,
  jpeg,
  lambdaContext,
  quietLogger,
  TINY_METADATA,
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
/** A clock two hours ahead: every job the test leaves behind looks long dead. */
const LATER = () => new Date(Date.now() + 2 * 3600_000);
const KILLED = 'RequestId: 7f0c Error: Runtime exited with error: signal: killed';

let sns: ReturnType<typeof captured.sns>;
let batch: ReturnType<typeof captured.batch>;
let lambda: ReturnType<typeof captured.lambda>;

beforeEach(async () => {
  sns = captured.sns();
  batch = captured.batch();
  lambda = captured.lambda();
});

function handlerWith(env: Record<string, string> = {}, more: StylizeFunctionOptions = {}): StylizeHandler {
  return testHandler(fixture.weightsDir, {
    env,
    s3: fixture.server.s3.client,
    sns: sns.client,
    batch: batch.client,
    lambda: lambda.client,
    ...more,
  });
}

/** The notifications sent so far, parsed. */
const notified = () => sns.calls.map((c) => JSON.parse(String(c.input.Message)));

/** An upload and its job id. */
async function uploaded(key: string, metadata: Record<string, string> = TINY_METADATA) {
  const event = await fixture.server.upload(key, await jpeg(), metadata);
  const jobId = jobIdFor({ bucket: BUCKET, key, etag: event.Records[0].s3.object.eTag });
  return { event, jobId };
}

/** What a worker killed mid-run leaves: job.json `running` and a held lock whose lease ends at `leaseEnds`. */
async function leftRunning(jobId: string, key: string, leaseEnds = new Date(Date.now() - 1000)) {
  const started = new Date(Date.now() - 60_000);
  const queued = newManifest(jobId, BUCKET, { key, kind: 'drop-in', etag: '"e"' }, started);
  const running = transition(queued, 'running', started, 'lambda run 1', { runs: 1 });
  await fixture.server.store.putJson(`outputs/${jobId}/job.json`, running);
  await writeLock(jobId, leaseEnds);
  return running;
}

const writeLock = (jobId: string, leaseEnds: Date, owner = 'dead-worker') =>
  fixture.server.store.putJson(`outputs/${jobId}/lock.json`, {
    jobId,
    state: 'held',
    owner,
    leaseExpiresAt: leaseEnds.toISOString(),
    updatedAt: new Date(leaseEnds.getTime() - 45_000).toISOString(),
  } satisfies LockRecord);

/** The SQS event of the dead-letter queue holding `event`, as Lambda writes it. */
const deadLetter = (event: unknown, message = KILLED) => ({
  Records: [
    {
      messageId: 'm-1',
      eventSource: 'aws:sqs',
      body: JSON.stringify(event),
      messageAttributes: {
        RequestID: { stringValue: '7f0c', dataType: 'String' },
        ErrorCode: { stringValue: '200', dataType: 'Number' },
        ErrorMessage: { stringValue: message, dataType: 'String' },
      },
    },
  ],
});

async function expectAbandoned(jobId: string, message: RegExp): Promise<JobManifest> {
  const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
  expect(manifest).toMatchObject({ status: 'failed', error: { code: 'JOB_ABANDONED' } });
  expect(manifest.error!.message).toMatch(message);
  expect(manifest.history.at(-1)).toMatchObject({ status: 'failed', detail: 'JOB_ABANDONED' });
  expect(await readJson(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({ state: 'done' });
  expect((await fixture.server.outputs(jobId)).filter((k) => k.includes('result'))).toEqual([]);
  expect(notified()).toEqual([expect.objectContaining({ jobId, status: 'failed', error: manifest.error })]);
  return manifest;
}

describe('the dead-letter consumer', () => {
  it('ends a job stuck `running` failed with JOB_ABANDONED, notified once however often it is delivered', async () => {
    const key = 'inputs/starry/oom.jpg';
    const { event, jobId } = await uploaded(key);
    await leftRunning(jobId, key);
    const [outcome] = await handlerWith()(deadLetter(event), lambdaContext(undefined, 'dlq-1'));
    expect(outcome).toEqual({
      jobId,
      status: 'failed',
      error: {
        code: 'JOB_ABANDONED',
        message: `the job's worker failed or died after 3 attempts; the last error: ${KILLED} (error code 200)`,
      },
    });
    const manifest = await expectAbandoned(jobId, /after 3 attempts.*signal: killed/);
    expect(manifest.history.map((t) => t.status)).toEqual(['queued', 'running', 'failed']);

    // SQS delivers at least once: the duplicate finds the lock done.
    expect(await handlerWith()(deadLetter(event), lambdaContext(undefined, 'dlq-2'))).toEqual([
      { jobId, status: 'skipped', detail: 'finished' },
    ]);
    expect(sns.calls).toHaveLength(1);
  });

  it('removes the result a worker wrote before it died without job.json: a failed job has no result', async () => {
    const key = 'inputs/starry/half.jpg';
    const { event, jobId } = await uploaded(key);
    await leftRunning(jobId, key);
    await fixture.server.store.put(`outputs/${jobId}/result.jpg`, await jpeg());
    await handlerWith()(deadLetter(event), lambdaContext(undefined, 'dlq-half'));
    await expectAbandoned(jobId, /after 3 attempts/);
  });

  it('makes the failed job.json from the upload when the worker died before writing one', async () => {
    const key = 'inputs/starry/early.jpg';
    const { event, jobId } = await uploaded(key);
    await writeLock(jobId, new Date(Date.now() - 1000));
    const [outcome] = await handlerWith()(
      deadLetter(event, 'Task timed out after 900.00 seconds'),
      lambdaContext(),
    );
    expect(outcome).toMatchObject({ jobId, status: 'failed', error: { code: 'JOB_ABANDONED' } });
    const manifest = await expectAbandoned(jobId, /Task timed out after 900.00 seconds/);
    expect(manifest.source).toEqual({ key, kind: 'drop-in', etag: event.Records[0].s3.object.eTag });
    expect(notified()[0].input).toEqual({ source: key, styles: [] });
  });

  it('leaves a finished job alone: no second notification, job.json unchanged', async () => {
    const { event, jobId } = await uploaded('inputs/starry/fine.jpg');
    expect(await handlerWith()(event, lambdaContext())).toMatchObject([{ jobId, status: 'succeeded' }]);
    const before = await fixture.server.store.get(`outputs/${jobId}/job.json`);
    expect(await handlerWith()(deadLetter(event), lambdaContext(undefined, 'dlq-1'))).toEqual([
      { jobId, status: 'skipped', detail: 'finished' },
    ]);
    expect((await fixture.server.store.get(`outputs/${jobId}/job.json`))!.etag).toBe(before!.etag);
    expect(notified()).toEqual([expect.objectContaining({ jobId, status: 'succeeded' })]);
  });

  it("waits out a dead holder's lease, but leaves a live worker (renewing its lease) to finish", async () => {
    const env = { NST_LOCK_LEASE_SECONDS: '1' };
    // A dead holder whose lease ends in 1.5 s: the consumer waits for it, then ends the job.
    const dying = await uploaded('inputs/starry/dying.jpg');
    await leftRunning(dying.jobId, 'inputs/starry/dying.jpg', new Date(Date.now() + 1500));
    expect(await handlerWith(env)(deadLetter(dying.event), lambdaContext())).toMatchObject([
      { jobId: dying.jobId, status: 'failed', error: { code: 'JOB_ABANDONED' } },
    ]);

    // A live worker renews its 1 s lease every third of a second: after waiting a lease and 5 s, skipped.
    sns.calls.length = 0;
    const live = await uploaded('inputs/starry/live.jpg');
    const held = await acquireLock(fixture.server.store, {
      jobId: live.jobId,
      key: `outputs/${live.jobId}/lock.json`,
      owner: 'live-worker',
      claimant: 'event',
      leaseSeconds: 1,
    });
    if (!held.acquired) throw new Error('no lock');
    held.lock.keepAlive(() => {});
    try {
      const started = Date.now();
      expect(await handlerWith(env)(deadLetter(live.event), lambdaContext())).toEqual([
        { jobId: live.jobId, status: 'skipped', detail: 'running' },
      ]);
      expect(Date.now() - started).toBeGreaterThan(5000);
    } finally {
      held.lock.stop();
    }
    expect(await fixture.server.store.get(`outputs/${live.jobId}/job.json`)).toBeUndefined();
    expect(await readJson(fixture.server.store, `outputs/${live.jobId}/lock.json`)).toMatchObject({
      owner: 'live-worker',
    });
    expect(sns.calls).toEqual([]);
  });

  it("ends a dead continuation too (an on-failure destination's record)", async () => {
    const key = 'inputs/starry/cont.jpg';
    const { jobId } = await uploaded(key);
    await leftRunning(jobId, key);
    const record = {
      version: '1.0',
      requestContext: { requestId: 'r-3', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { nstContinuation: { bucket: BUCKET, jobId } },
      responsePayload: { errorType: 'Runtime.ExitError', errorMessage: KILLED },
    };
    const message = {
      Records: [{ eventSource: 'aws:sqs', body: JSON.stringify(record), messageAttributes: {} }],
    };
    expect(await handlerWith()(message, lambdaContext())).toMatchObject([
      { jobId, status: 'failed', error: { code: 'JOB_ABANDONED' } },
    ]);
    await expectAbandoned(
      jobId,
      /after 3 attempts; the last error: Runtime.ExitError: .*killed \(RetriesExhausted\)/,
    );
  });
});

describe('the sweeper', () => {
  const sweep = { nstSweep: { bucket: BUCKET } };

  it('fails a stale `running` job without a checkpoint, once under concurrent sweeps; leaves live and finished jobs', async () => {
    const stale = await uploaded('inputs/starry/stale.jpg');
    await leftRunning(stale.jobId, 'inputs/starry/stale.jpg');
    const fine = await uploaded('inputs/starry/fine.jpg');
    await handlerWith()(fine.event, lambdaContext());
    sns.calls.length = 0;

    // Now: the lease has lapsed, but a Lambda worker may still be alive (its 900 s are not up).
    expect(await handlerWith()(sweep, lambdaContext())).toEqual([]);
    expect(
      (await readJson<JobManifest>(fixture.server.store, `outputs/${stale.jobId}/job.json`)).status,
    ).toBe('running');

    // Two hours on, two sweeps at once: one ends the job, the other finds its lock taken.
    const later = () => handlerWith({}, { now: LATER });
    const results = await Promise.all([
      later()(sweep, lambdaContext(undefined, 'sweep-1')),
      later()(sweep, lambdaContext(undefined, 'sweep-2')),
    ]);
    const outcomes = results.flat();
    expect(outcomes.filter((o) => o.status === 'failed')).toEqual([
      {
        jobId: stale.jobId,
        status: 'failed',
        error: {
          code: 'JOB_ABANDONED',
          message: expect.stringMatching(
            /^its worker stopped: no sign of it since .*no checkpoint to resume from$/,
          ),
        },
      },
    ]);
    await expectAbandoned(stale.jobId, /\(status running, in Lambda\); abandoned by the sweeper/);
    // The next sweep has nothing to do.
    expect(await later()(sweep, lambdaContext(undefined, 'sweep-3'))).toEqual([]);
    expect(sns.calls).toHaveLength(1);
    expect((await readJson<JobManifest>(fixture.server.store, `outputs/${fine.jobId}/job.json`)).status).toBe(
      'succeeded',
    );
  });

  it('resumes a stale job from its checkpoint in a new invocation, which finishes it', async () => {
    // A run stops at its deadline and checkpoints; the continuation it dispatched is lost.
    const { event, jobId } = await uploaded('inputs/starry/long.jpg', TWO_SCALES);
    let calls = 0;
    const nearing = lambdaContext(() => (++calls <= 2 ? 900_000 : 30_000));
    expect(await handlerWith()(event, nearing)).toMatchObject([{ jobId, status: 'queued' }]);
    expect(lambda.calls).toHaveLength(1);

    const [outcome] = await handlerWith({}, { now: LATER })(sweep, lambdaContext(undefined, 'sweep-1'));
    expect(outcome).toEqual({ jobId, status: 'queued', detail: 'resumed from its checkpoint' });
    expect(lambda.calls).toHaveLength(2);
    const payload = JSON.parse(Buffer.from(lambda.calls[1].input.Payload as Uint8Array).toString('utf8'));
    expect(payload).toEqual({ nstContinuation: { bucket: BUCKET, jobId } });
    const queued = await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);
    expect(queued).toMatchObject({ status: 'queued', continuations: 2 });
    expect(queued.history.at(-1)!.detail).toMatch(
      /^sweeper: its worker stopped: .*\(status queued, in Lambda\); resumes from its checkpoint at scale 1, iteration 1$/,
    );
    expect(await readJson<LockRecord>(fixture.server.store, `outputs/${jobId}/lock.json`)).toMatchObject({
      state: 'handoff',
      to: 'continuation',
    });
    expect(sns.calls).toEqual([]);

    expect(await handlerWith({}, { now: LATER })(payload, lambdaContext(undefined, 'req-3'))).toEqual([
      { jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` },
    ]);
    expect(await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`)).toMatchObject({
      status: 'succeeded',
      runs: 2,
      iterations: 6,
    });
    expect(notified()).toEqual([expect.objectContaining({ jobId, status: 'succeeded' })]);
  });
});

describe('the sweeper, bounded', () => {
  it('acts on at most maxJobs jobs a sweep; the next sweep takes the rest', async () => {
    for (const name of ['a', 'b', 'c']) await leftRunning(`job-${name}`, `inputs/starry/${name}.jpg`);
    const notices: JobNotification[] = [];
    const deps = buildWorkerDeps({
      config: readPipelineConfig({}),
      worker: 'lambda',
      s3: fixture.server.s3.client,
      logger: quietLogger(),
      notifier: { started: async () => {}, finished: async (n) => void notices.push(n) },
      now: LATER,
    });
    const first = await sweepJobs(deps, { owner: 'sweep-1' }, BUCKET, { limits: { maxJobs: 2 } });
    expect(first.map((o) => o.status)).toEqual(['failed', 'failed']);
    const second = await sweepJobs(deps, { owner: 'sweep-2' }, BUCKET, { limits: { maxJobs: 2 } });
    expect(second.map((o) => o.status)).toEqual(['failed']);
    expect(await sweepJobs(deps, { owner: 'sweep-3' }, BUCKET)).toEqual([]);
    expect(notices.map((n) => n.jobId).sort()).toEqual(['job-a', 'job-b', 'job-c']);
  });
});

describe('AWS Batch without GPU capacity', () => {
  it('a job cancelled after waiting RUNNABLE too long ends failed with BATCH_NO_CAPACITY', async () => {
    const reasons = {
      'inputs/starry/capacity.jpg':
        'Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
      'inputs/starry/quota.jpg':
        'Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
    };
    for (const [key, statusReason] of Object.entries(reasons)) {
      sns.calls.length = 0;
      const { event, jobId } = await uploaded(key);
      expect(
        await handlerWith(BATCH_ENV)(
          event,
          lambdaContext(() => 60_500),
        ),
      ).toMatchObject([{ jobId, status: 'queued' }]);
      const cancelled = batchStateChange({ jobId, bucket: BUCKET, reason: statusReason });
      const [outcome] = await handlerWith(BATCH_ENV)(cancelled, lambdaContext());
      expect(outcome).toEqual({
        jobId,
        status: 'failed',
        error: {
          code: 'BATCH_NO_CAPACITY',
          message:
            'AWS Batch job batch-job-1 was cancelled: no GPU capacity or quota was available within the ' +
            `queue's time limit for waiting (${statusReason}); try again later, or raise the GPU instance quota`,
        },
      });
      expect(await readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`)).toMatchObject({
        status: 'failed',
        error: { code: 'BATCH_NO_CAPACITY' },
      });
      expect(notified()).toEqual([
        expect.objectContaining({
          jobId,
          status: 'failed',
          error: expect.objectContaining({ code: 'BATCH_NO_CAPACITY' }),
        }),
      ]);
    }
  });
});
