/**
 * A tiled job through the tiles' state machine (test/helpers/tiles-definition.ts: the definition the stack
 * synthesises) run by an ASL interpreter, whose Task states call the stylize handler as Step Functions
 * would: the upload runs the untiled scale and starts the execution (captured StartExecution), then the
 * prepare, tile, reduce and join steps run over the local S3 server until the job succeeds with one
 * notification. A tile that fails for good fails the job with its code; an execution that ended without a
 * Catch (EventBridge's status-change event) fails it with TILES_FAILED.
 */
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import type { StylizeHandler } from '../../functions/stylize/index.js';
import { STYLE_LAYERS } from '../../src/engine/vgg.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import type { TilesState } from '../../src/jobs/tiled/execution.js';
import { getTileInput, getTileOutput, tileObjectKeys } from '../../src/jobs/tiled/tile-objects.js';
import { readJson } from '../helpers/local-s3.js';
import { tilesDefinition } from '../helpers/tiles-definition.js';
import { captured, lambdaContext, png, TOPIC, testHandler, usePipelineFixture } from './harness.js';

const fixture = usePipelineFixture();
const definition = tilesDefinition();
const STATE_MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:nst-tiles';

/** 144 px whole, then 288x240 as 2 tiles of 256 px (overlapping by 128) in two rounds (20 iterations, then 1). */
const TILED = {
  'nst-size': '288',
  'nst-min-size': '144',
  'nst-iterations': '1,21',
  'nst-tile-size': '256',
  'nst-engine': 'onnx',
  'nst-threads': '2',
};

let sns: ReturnType<typeof captured.sns>;
let sfn: ReturnType<typeof captured.sfn>;
let handler: StylizeHandler;
let invocations = 0;
const context = (): Context => lambdaContext(() => 900_000, `req-${++invocations}`);

beforeEach(() => {
  sns = captured.sns();
  sfn = captured.sfn();
  handler = testHandler(fixture.weightsDir, {
    env: { NST_TILES_STATE_MACHINE_ARN: STATE_MACHINE },
    s3: fixture.server.s3.client,
    sns: sns.client,
    sfn: sfn.client,
  });
});

/** Every Task state calls the handler with its payload, as the Lambda integration does. */
function steps(override: Partial<Record<string, (input: unknown) => Promise<unknown>>> = {}) {
  const call = (input: unknown) => handler(input as never, context()) as Promise<never>;
  const names = ['PrepareScale', 'OptimiseTile', 'ReduceRound', 'JoinScale', 'MarkFailed'];
  return Object.fromEntries(names.map((name) => [name, override[name] ?? call]));
}

/** Uploads the photo and runs its event: the untiled scale here, then the execution is started. */
async function startTiledJob(): Promise<{
  jobId: string;
  input: TilesState;
  context: { Execution: { Id: string } };
}> {
  const event = await fixture.server.upload('inputs/starry/photo.png', await png(288, 240, 3), TILED);
  const [outcome] = await handler(event, context());
  expect(outcome).toMatchObject({ status: 'queued' });
  expect(sfn.calls).toHaveLength(1);
  const start = sfn.calls[0].input as { stateMachineArn: string; name: string; input: string };
  expect(start.stateMachineArn).toBe(STATE_MACHINE);
  expect(start.name).toBe(`nst-r1-${outcome.jobId}`);
  // The execution's id ($$.Execution.Id), as StartExecution answered (harness.ts captured.sfn).
  const Id = `arn:aws:states:us-east-1:123456789012:execution:nst-tiles:${start.name}`;
  return { jobId: outcome.jobId!, input: JSON.parse(start.input), context: { Execution: { Id } } };
}

const manifestOf = (jobId: string) =>
  readJson<JobManifest>(fixture.server.store, `outputs/${jobId}/job.json`);

describe('a tiled job through the tiles state machine', () => {
  it('runs its tiled scale as tiles in rounds and succeeds with the result and one notification', async () => {
    const { jobId, input, context: execution } = await startTiledJob();
    const queued = await manifestOf(jobId);
    expect(queued.status).toBe('queued');
    expect(queued.tiles?.executionArn).toContain(`nst-r1-${jobId}`);
    expect(queued.checkpoint).toMatchObject({ scaleIndex: 1, iteration: 0 });
    expect(sns.calls).toHaveLength(0);

    const run = new StateMachine(definition as never).run(input as never, {
      overrides: { taskResourceLocalHandlers: steps() as never },
      context: execution,
    });
    const entered: string[] = [];
    const logging = (async () => {
      for await (const event of run.eventLogs)
        if (event.type === 'StateEntered') entered.push((event as { state: { name: string } }).state.name);
    })();
    expect(await run.result).toMatchObject({ next: 'done' });
    await logging;
    // One scale: prepare, two rounds of 2 tiles each with its reduce, the join.
    const count = (name: string) => entered.filter((n) => n === name).length;
    expect([count('PrepareScale'), count('OptimiseTile'), count('ReduceRound'), count('JoinScale')]).toEqual([
      1, 4, 2, 1,
    ]);

    const done = await manifestOf(jobId);
    expect(done.status).toBe('succeeded');
    expect(done.output).toMatchObject({ width: 288, height: 240 });
    expect(done.iterations).toBe(22);
    expect(done.progress).toMatchObject({ scaleIndex: 1, tiles: { done: 4, total: 4 }, percent: 100 });
    const result = await fixture.server.store.get(done.output!.key);
    expect(await sharp(result!.body).metadata()).toMatchObject({ width: 288, height: 240 });
    // Each tile's second round starts from the L-BFGS scale its first ended with, as in-process rounds do.
    const keys = tileObjectKeys(jobId, 1);
    const grams = STYLE_LAYERS.length;
    for (const t of [0, 1]) {
      const ended = await getTileOutput(fixture.server.store, keys.output(0, t), grams);
      const carried = await getTileInput(fixture.server.store, keys.input(1, t), grams);
      expect(ended.gamma).toBeGreaterThan(0);
      expect(carried.gamma).toBe(ended.gamma);
    }
    const published = sns.calls.filter((c) => c.input.TopicArn === TOPIC);
    expect(published).toHaveLength(1);
    expect(String(published[0].input.Message)).toContain('succeeded');
  });

  it('fails the job with the code of a tile that fails for good, and notifies once', async () => {
    const { jobId, input, context: execution } = await startTiledJob();
    const diverged = async () => {
      throw Object.assign(new Error('the loss diverged in tile 2 of 2'), { name: 'INTERNAL' });
    };
    const run = new StateMachine(definition as never).run(input as never, {
      overrides: { taskResourceLocalHandlers: steps({ OptimiseTile: diverged }) as never },
      context: execution,
    });
    await expect(run.result).rejects.toMatchObject({ cause: { name: 'TilesJobFailed' } });
    const failed = await manifestOf(jobId);
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'INTERNAL', message: 'the loss diverged in tile 2 of 2' });
    expect(sns.calls).toHaveLength(1);
  });

  it('fails the job with TILES_FAILED when its execution ends without a Catch (EventBridge), once', async () => {
    const { jobId, input } = await startTiledJob();
    // A step or an ended event of another execution (an orphan of a retried hand-off) leaves the job alone.
    const orphan = `arn:aws:states:us-east-1:123456789012:execution:nst-tiles:nst-r0-${jobId}`;
    const step = {
      nstTiles: { step: 'fail', state: { ...input, error: { Error: 'INTERNAL' } }, execution: orphan },
    };
    expect(await handler(step as never, context())).toMatchObject({ next: 'done' });
    expect((await manifestOf(jobId)).status).toBe('queued');
    const ended = {
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:nst-tiles:nst-r1-${jobId}`,
        name: `nst-r1-${jobId}`,
        status: 'TIMED_OUT',
        input: JSON.stringify(input),
        error: null,
        cause: null,
      },
    };
    expect(await handler(ended, context())).toMatchObject([{ jobId, status: 'failed' }]);
    const failed = await manifestOf(jobId);
    expect(failed.error?.code).toBe('TILES_FAILED');
    expect(failed.error?.message).toContain('ended TIMED_OUT');
    // A second delivery finds the job finished.
    expect(await handler(ended, context())).toMatchObject([{ jobId, status: 'skipped' }]);
    expect(sns.calls).toHaveLength(1);
  });
});
