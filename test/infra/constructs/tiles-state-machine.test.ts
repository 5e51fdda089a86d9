/**
 * The tiles' state machine as the stack synthesises it: a valid definition (asl-validator), the shape the
 * design asks for (docs/design/tiled-route.md), and its control flow run by an ASL interpreter
 * (aws-local-stepfunctions) with stand-in steps: rounds and scales follow the steps' `next`, a tile that
 * fails for good ends in MarkFailed then JobFailed, a throttled tile is retried. The same definition runs
 * the real steps in test/integration/tiled-execution.test.ts.
 */
import aslValidator from 'asl-validator';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { afterAll, describe, expect, it } from 'vitest';
import { TILES_EXECUTION_TIMEOUT_HOURS } from '../../../src/jobs/deployment.js';
import type { TilesState } from '../../../src/jobs/tiled/execution.js';
import { TEST_FUNCTION_ARN, tilesDefinition } from '../../helpers/tiles-definition.js';
import { resourcesOfType, synthesise } from '../helpers.js';

const synth = synthesise();
afterAll(synth.dispose);
const definition = tilesDefinition(synth);
// biome-ignore lint/suspicious/noExplicitAny: the definition is JSON read for its shape.
const states = definition.States as Record<string, any>;

describe('the tiles state machine definition', () => {
  it('passes asl-validator with path and ARN checks', () => {
    const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('runs the tiles in a Distributed Map of Standard child executions, discarding their results', () => {
    const map = states.RunTiles;
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.ItemsPath).toBe('$.tiles');
    expect(map.ResultPath).toBeNull();
    expect(map.MaxConcurrency).toBe(10);
    expect(map.ItemSelector.nstTiles).toEqual({
      step: 'tile',
      state: { 'bucket.$': '$.bucket', 'jobId.$': '$.jobId', 'scale.$': '$.scale', 'round.$': '$.round' },
      'tile.$': '$$.Map.Item.Value',
      'execution.$': '$$.Execution.Id',
    });
    expect(states.PrepareScale.Parameters).toEqual({
      nstTiles: { step: 'prepare', 'state.$': '$', 'execution.$': '$$.Execution.Id' },
    });
    const tile = map.ItemProcessor.States.OptimiseTile;
    expect(tile.Resource).toBe(TEST_FUNCTION_ARN);
    // A little over the function's 900 s, so the function's own timeout surfaces first.
    expect(tile.TimeoutSeconds).toBe(960);
    expect(JSON.stringify(tile.Retry)).toContain('Lambda.TooManyRequestsException');
    expect(JSON.stringify(tile.Retry)).toContain('STORAGE_UNAVAILABLE');
    expect(JSON.stringify(tile.Retry)).not.toContain('INTERNAL');
  });

  it('catches every failure of a step or the Map into MarkFailed, which ends in JobFailed', () => {
    for (const name of ['PrepareScale', 'RunTiles', 'ReduceRound', 'JoinScale'])
      expect(states[name].Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'MarkFailed' },
      ]);
    expect(states.MarkFailed.Next).toBe('JobFailed');
    expect(states.JobFailed.Type).toBe('Fail');
    expect(JSON.stringify(definition)).not.toContain('JSONata');
  });

  it('is a Standard machine with a timeout, logs and tracing', () => {
    const machine = Object.values(resourcesOfType(synth.template, 'AWS::StepFunctions::StateMachine'))[0];
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.LoggingConfiguration.Level).toBe('ALL');
    expect(definition.TimeoutSeconds).toBe(TILES_EXECUTION_TIMEOUT_HOURS * 3600);
  });

  it('sends executions that failed, timed out or were stopped to the function', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      },
    });
  });
});

/** Stand-in steps: 2 scales of 3 tiles, 2 rounds each; they record what they were asked. */
function standIns(tileError?: (call: number) => Error | undefined) {
  const calls: string[] = [];
  let tileCalls = 0;
  const control = (step: string, next: (s: TilesState) => TilesState) => (input: unknown) => {
    const { nstTiles } = input as { nstTiles: { state: TilesState } };
    const { state } = nstTiles;
    calls.push(`${step} s${state.scale ?? '-'} r${state.round ?? '-'}`);
    return next(state);
  };
  return {
    calls,
    handlers: {
      PrepareScale: control('prepare', (s) => ({
        ...s,
        scale: s.scale ?? 0,
        round: 0,
        tiles: [0, 1, 2],
        next: 'tiles',
      })),
      OptimiseTile: (input: unknown) => {
        const { nstTiles } = input as { nstTiles: { state: TilesState; tile: number } };
        tileCalls++;
        const error = tileError?.(tileCalls);
        if (error) throw error;
        calls.push(`tile s${nstTiles.state.scale} r${nstTiles.state.round} t${nstTiles.tile}`);
        return { tile: nstTiles.tile, status: 'done' };
      },
      ReduceRound: control('reduce', (s) => ({
        ...s,
        round: (s.round ?? 0) + 1,
        next: (s.round ?? 0) + 1 < 2 ? 'tiles' : 'join',
      })),
      JoinScale: control('join', (s) =>
        (s.scale ?? 0) + 1 < 2
          ? { bucket: s.bucket, jobId: s.jobId, scale: (s.scale ?? 0) + 1, round: 0, next: 'prepare' }
          : { ...s, next: 'done' },
      ),
      MarkFailed: control('fail', (s) => ({ bucket: s.bucket, jobId: s.jobId, next: 'failed' })),
    },
  };
}

const noWaits = { OptimiseTile: 0, PrepareScale: 0, ReduceRound: 0, JoinScale: 0, MarkFailed: 0 };
const input = { bucket: 'b', jobId: 'photo-0123456789abcdef' };
/** $$.Execution.Id, which every step is given. */
const context = {
  Execution: { Id: 'arn:aws:states:us-east-1:123456789012:execution:nst-tiles:nst-r1-photo' },
};

describe('the tiles state machine, run by an ASL interpreter', () => {
  it('runs every tile of every round of every scale, then joins each scale and ends Done', async () => {
    const { calls, handlers } = standIns();
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true } });
    const run = machine.run(input, {
      overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: noWaits },
      context,
    });
    expect(await run.result).toMatchObject({ next: 'done' });
    const rounds = (s: number) =>
      [0, 1].flatMap((r) => [0, 1, 2].map((t) => `tile s${s} r${r} t${t}`).concat(`reduce s${s} r${r}`));
    expect(calls.filter((c) => !c.startsWith('tile')).length).toBe(2 * (1 + 2 + 1));
    expect([...calls].sort()).toEqual(
      [...['prepare s- r-', 'join s0 r2', 'prepare s1 r0', 'join s1 r2'], ...rounds(0), ...rounds(1)].sort(),
    );
  });

  it('retries a throttled tile, and a tile that fails for good ends in MarkFailed with its code', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
    const retried = standIns((n) => (n === 1 ? throttled : undefined));
    const ok = new StateMachine(definition as never).run(input, {
      overrides: { taskResourceLocalHandlers: retried.handlers, retryIntervalOverrides: noWaits },
      context,
    });
    expect(await ok.result).toMatchObject({ next: 'done' });

    const diverged = Object.assign(new Error('the loss diverged in tile 2 of 3'), { name: 'INTERNAL' });
    const failing = standIns(() => diverged);
    const failed = new StateMachine(definition as never).run(input, {
      overrides: { taskResourceLocalHandlers: failing.handlers, retryIntervalOverrides: noWaits },
      context,
    });
    const error = await failed.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as ExecutionError).cause).toMatchObject({ name: 'TilesJobFailed' });
    // MarkFailed got the tile's error name: its code.
    expect(failing.calls.filter((c) => c.startsWith('fail'))).toEqual(['fail s0 r0']);
    expect(failing.calls.some((c) => c.startsWith('reduce'))).toBe(false);
  });
});
