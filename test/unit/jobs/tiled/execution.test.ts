/** The tiles' execution as the function reads it: steps checked, errors of failed steps, execution names. */
import { describe, expect, it } from 'vitest';
import { executionNameFor, readTilesStep, scaleAndRound } from '../../../../src/jobs/tiled/execution.js';
import { errorOfStep } from '../../../../src/jobs/tiled/steps.js';

const state = { bucket: 'b', jobId: 'photo-0123456789abcdef', scale: 2, round: 1 };

describe('tiles steps', () => {
  it('reads a step with its state and tile', () => {
    const execution = 'arn:aws:states:us-east-1:1:execution:nst-tiles:nst-r1-photo';
    expect(readTilesStep({ nstTiles: { step: 'tile', state, tile: 3, execution } })).toEqual({
      step: 'tile',
      state,
      tile: 3,
      execution,
    });
    expect(scaleAndRound(state)).toEqual({ scale: 2, round: 1 });
  });

  it('refuses a malformed step as INVALID_JOB_SPEC, naming what is wrong', () => {
    const bad = (event: unknown) => () => readTilesStep(event);
    const execution = 'arn:x';
    expect(bad({ nstTiles: { step: 'dance', state, execution } })).toThrow(/bad tiles step: .*step/);
    expect(bad({ nstTiles: { step: 'tile', state: { ...state, jobId: '../x' }, execution } })).toThrow(
      /jobId/,
    );
    expect(bad({ nstTiles: { step: 'tile', state, tile: -1, execution } })).toThrow(/tile/);
    expect(bad({ nstTiles: { step: 'prepare', state } })).toThrow(/execution/);
    expect(() => scaleAndRound({ bucket: 'b', jobId: 'j' })).toThrow('without its scale and round');
  });

  it('names each run of a job its own execution, within 80 characters', () => {
    expect(executionNameFor('photo-0123456789abcdef', 3)).toBe('nst-r3-photo-0123456789abcdef');
    expect(executionNameFor('a'.repeat(81), 12)).toHaveLength(80);
  });
});

describe('the error of a failed step', () => {
  const lambdaCause = (message: string) =>
    JSON.stringify({ errorType: 'X', errorMessage: message, trace: [] });

  it('keeps the code of an error that ends a job, with the message of the Lambda error', () => {
    const error = errorOfStep({ Error: 'INTERNAL', Cause: lambdaCause('the loss diverged in tile 2 of 4') });
    expect([error.code, error.message]).toEqual(['INTERNAL', 'the loss diverged in tile 2 of 4']);
    expect(errorOfStep({ Error: 'IMAGE_CORRUPT', Cause: 'plain text' }).code).toBe('IMAGE_CORRUPT');
  });

  it('turns retries that ran out and errors of Step Functions or Lambda into TILES_FAILED', () => {
    for (const name of [
      'STORAGE_UNAVAILABLE',
      'States.Timeout',
      'Lambda.Unknown',
      'States.ExceedToleratedFailureThreshold',
    ]) {
      const error = errorOfStep({ Error: name, Cause: 'Task timed out after 900.00 seconds' });
      expect(error.code, name).toBe('TILES_FAILED');
      expect(error.message).toBe(
        `a step of the job's tiles failed for good (${name}): Task timed out after 900.00 seconds`,
      );
    }
    expect(errorOfStep(undefined).message).toContain('(States.Unknown): no cause given');
  });
});
