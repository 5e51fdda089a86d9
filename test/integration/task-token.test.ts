/**
 * A Step Functions task waiting on a job, through the Lambda handler against a real local S3 server: a
 * spec's task token gets heartbeats while the job runs and one answer at its end (the notification, or the
 * error's code and message), also when the spec is invalid; a retry for a failed broadcast does not answer
 * twice; and a direct invoke (`.waitForTaskToken`) writes its spec under jobs/, once, whose upload runs it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { StylizeHandler } from '../../functions/stylize/index.js';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { waitedSpecKey } from '../../src/jobs/spec/keys.js';
import { BUCKET, readJson } from '../helpers/local-s3.js';
import {
  type CapturedCall,
  captured,
  jpeg,
  lambdaContext,
  TINY,
  testHandler,
  usePipelineFixture,
} from './harness.js';

const fixture = usePipelineFixture();
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAQ-task-token';
const spec = (extra: Record<string, unknown> = {}) => ({
  content: 'assets/photo.jpg',
  styles: [{ key: 'styles/starry.png' }],
  options: TINY,
  taskToken: TOKEN,
  ...extra,
});

let sns: ReturnType<typeof captured.sns>;
let sfn: ReturnType<typeof captured.sfn>;
let handler: StylizeHandler;

beforeEach(async () => {
  sns = captured.sns();
  sfn = captured.sfn();
  handler = testHandler(fixture.weightsDir, {
    s3: fixture.server.s3.client,
    sns: sns.client,
    sfn: sfn.client,
  });
  await fixture.server.store.put('assets/photo.jpg', await jpeg(40, 32));
});

const taskCalls = () => sfn.calls.filter((c) => c.command.startsWith('SendTask'));
const commands = (calls: CapturedCall[]) => calls.map((c) => c.command);

async function runSpec(key: string, body: unknown): Promise<{ outcome: JobOutcome; manifest: JobManifest }> {
  const event = await fixture.server.upload(key, JSON.stringify(body));
  const [outcome] = await handler(event, lambdaContext());
  const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${outcome.jobId}/job.json`);
  return { outcome, manifest };
}

describe('a job a Step Functions task waits on', () => {
  it('beats while it runs, then answers SendTaskSuccess once with the notification as output', async () => {
    const { outcome, manifest } = await runSpec('jobs/waited.json', spec());
    expect(outcome.status).toBe('succeeded');
    const calls = taskCalls();
    expect(commands(calls).at(-1)).toBe('SendTaskSuccessCommand');
    expect(commands(calls).slice(0, -1)).toEqual(Array(calls.length - 1).fill('SendTaskHeartbeatCommand'));
    expect(calls.length).toBeGreaterThan(1);
    for (const call of calls) expect(call.input.taskToken).toBe(TOKEN);
    // One document: the task's output is the job's SNS message.
    expect(JSON.parse(String(calls.at(-1)!.input.output))).toEqual(
      JSON.parse(String(sns.calls[0].input.Message)),
    );
    // job.json keeps the token apart from the spec, which says how to stylise.
    expect(manifest.taskToken).toBe(TOKEN);
    expect(manifest.spec).not.toHaveProperty('taskToken');
  });

  it("answers SendTaskFailure with the error's code and message, also for a spec that is not valid", async () => {
    const { outcome } = await runSpec('jobs/bad.json', spec({ options: { size: -3 } }));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'INVALID_JOB_SPEC' } });
    expect(taskCalls()).toEqual([
      {
        command: 'SendTaskFailureCommand',
        input: { taskToken: TOKEN, error: 'INVALID_JOB_SPEC', cause: outcome.error!.message },
      },
    ]);
  });

  it("is told when its job's worker died before it wrote job.json: the dead letter reads the token again", async () => {
    const event = await fixture.server.upload('jobs/died.json', JSON.stringify(spec()));
    const dead = {
      Records: [
        {
          messageId: 'm-1',
          eventSource: 'aws:sqs',
          body: JSON.stringify(event),
          messageAttributes: {
            ErrorMessage: { stringValue: 'Runtime exited: signal: killed', dataType: 'String' },
          },
        },
      ],
    };
    const [outcome] = await handler(dead, lambdaContext(undefined, 'dlq-1'));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'JOB_ABANDONED' } });
    expect(taskCalls()).toEqual([
      {
        command: 'SendTaskFailureCommand',
        input: { taskToken: TOKEN, error: 'JOB_ABANDONED', cause: expect.stringContaining('signal: killed') },
      },
    ]);
  });

  it('is answered only after the broadcast channels: a retry for a failed SNS publish answers once', async () => {
    let snsDown = true;
    const flaky = captured.sns(() => {
      if (snsDown) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      return { MessageId: 'm-1' };
    });
    handler = testHandler(fixture.weightsDir, {
      s3: fixture.server.s3.client,
      sns: flaky.client,
      sfn: sfn.client,
    });
    const event = await fixture.server.upload('jobs/retried.json', JSON.stringify(spec()));
    await expect(handler(event, lambdaContext())).rejects.toMatchObject({ code: 'NOTIFICATION_FAILED' });
    expect(commands(taskCalls())).not.toContain('SendTaskSuccessCommand');
    snsDown = false;
    // The retry finds the job finished with its lock not done, and tells again: SNS, then the task.
    const [again] = await handler(event, lambdaContext(undefined, 'req-2'));
    expect(again).toMatchObject({ status: 'skipped', detail: 'finished' });
    expect(flaky.calls).toHaveLength(2);
    expect(commands(taskCalls()).filter((c) => c === 'SendTaskSuccessCommand')).toHaveLength(1);
  });

  it('ends when its task is over before it: the answer is not retried', async () => {
    const gone = captured.sfn(() => {
      throw Object.assign(new Error('Provided task does not exist anymore'), { name: 'TaskTimedOut' });
    });
    handler = testHandler(fixture.weightsDir, {
      s3: fixture.server.s3.client,
      sns: sns.client,
      sfn: gone.client,
    });
    const { outcome, manifest } = await runSpec('jobs/late.json', spec());
    expect(outcome.status).toBe('succeeded');
    expect(manifest.status).toBe('succeeded');
    expect(sns.calls).toHaveLength(1);
    expect(commands(gone.calls).at(-1)).toBe('SendTaskSuccessCommand');
  });

  it('invoked directly with a spec and the token, writes the spec under jobs/ once; its upload runs the job', async () => {
    const invoke = { ...spec(), bucket: BUCKET };
    const key = waitedSpecKey(TOKEN);
    expect(await handler(invoke, lambdaContext())).toEqual([
      { key, status: 'queued', detail: `spec written to s3://${BUCKET}/${key}` },
    ]);
    const written = await fixture.server.store.get(key);
    expect(JSON.parse(written!.body.toString())).toEqual(spec());
    // Step Functions may invoke again (a retried task): the same object, left as it was.
    await handler(invoke, lambdaContext(undefined, 'req-2'));
    expect((await fixture.server.store.get(key))!.etag).toBe(written!.etag);
    expect(await fixture.server.store.list('jobs/')).toEqual([key]);
    // The bucket's event for the written spec runs the job, which answers the task.
    const event = {
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: BUCKET }, object: { key, eTag: written!.etag.replace(/"/g, '') } },
        },
      ],
    };
    const [outcome] = await handler(event, lambdaContext(undefined, 'req-3'));
    expect(outcome.status).toBe('succeeded');
    expect(commands(taskCalls()).at(-1)).toBe('SendTaskSuccessCommand');
  });

  it("writes a direct invoke's invalid spec as any: its job fails, and the task hears INVALID_JOB_SPEC", async () => {
    const [queued] = await handler({ ...spec({ styles: [] }), bucket: BUCKET }, lambdaContext());
    const written = await fixture.server.store.get(queued.key!);
    const event = {
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: BUCKET },
            object: { key: queued.key!, eTag: written!.etag.replace(/"/g, '') },
          },
        },
      ],
    };
    const [outcome] = await handler(event, lambdaContext(undefined, 'req-2'));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'INVALID_JOB_SPEC' } });
    expect(taskCalls().map((c) => [c.command, c.input.error])).toEqual([
      ['SendTaskFailureCommand', 'INVALID_JOB_SPEC'],
    ]);
  });

  it('refuses a direct invoke that names no bucket when the function has none configured', async () => {
    // Named by its code, so the task's Catch and the execution's error say INVALID_JOB_SPEC.
    await expect(handler(spec(), lambdaContext())).rejects.toMatchObject({
      name: 'INVALID_JOB_SPEC',
      message: expect.stringContaining('add "bucket" to the payload, or set NST_PIPELINE_BUCKET'),
    });
    const configured = testHandler(fixture.weightsDir, {
      s3: fixture.server.s3.client,
      env: { NST_PIPELINE_BUCKET: BUCKET },
    });
    const [queued] = await configured(spec(), lambdaContext());
    expect(queued).toMatchObject({ status: 'queued', key: waitedSpecKey(TOKEN) });
  });
});
