/**
 * A tiled scale's tiles on a pool of worker threads (`--workers`): the same picture as the tiles run in turn
 * on this thread, a tile that fails fails the run with its code, and a stop ends the workers' round with a
 * checkpoint of the whole image at the round's start.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../../../src/engine/options.js';
import type { Scale } from '../../../src/engine/schedule.js';
import { stylize } from '../../../src/engine/stylize.js';
import type { TileRunnerFactory } from '../../../src/engine/tiled-scale.js';
import { generateVggWeights } from '../../../src/engine/vgg.js';
import { TileWorkers } from '../../../src/tile-workers/pool.js';
import { photoLike } from '../../helpers/images.js';
import { abortedAtFirstTile } from '../../helpers/tiled-runs.js';

const weights = generateVggWeights(5);
const content = photoLike(400, 160, 1);
const style = { image: photoLike(96, 96, 7), weight: 1 };
// A row of three tiles (256, 256 and 144 px wide) on two workers: one waits for a free worker, so an abort
// also meets a task that has not started. One thread per engine on both sides, so the arithmetic is the
// same wherever a tile runs.
const options: StylizeOptions = { ...DEFAULT_STYLIZE_OPTIONS, size: 400, tileSize: 256, threads: 1 };
const ROUND = 2;
const scales: Scale[] = [{ width: 400, height: 160, iterations: ROUND }];
const workers = TileWorkers.start({ weights, workers: 2, threads: 2 });
afterAll(() => workers.close());
const tileRunner: TileRunnerFactory = (...args) => workers.runner(...args);

describe('TileWorkers', () => {
  it('gives each worker its share of the threads', () => {
    expect([workers.size, workers.threadsEach]).toEqual([2, 1]);
    const three = TileWorkers.start({ weights, workers: 3, threads: 2 });
    expect(three.threadsEach).toBe(1);
    return three.close();
  });

  it('refuses a pool of no workers', () => {
    expect(() => TileWorkers.start({ weights, workers: 0, threads: 2 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/workers/) }),
    );
  });

  it('runs the tiles in the workers, to the same picture as in turn on this thread', async () => {
    const inputs = { content, styles: [style] };
    const context = { weights, scales, tileRoundIterations: ROUND };
    const tiles: number[] = [];
    const pooled = await stylize(inputs, options, {
      ...context,
      tileRunner,
      onProgress: (p) => p.tiles && tiles.push(p.tiles.done),
    });
    const inTurn = await stylize(inputs, options, context);
    // Every tile of the round is counted once, whichever finished first (the last with the round).
    expect(tiles).toEqual([1, 2, 3]);
    expect(pooled.iterations).toBe(inTurn.iterations);
    expect(pooled.final.total).toBeCloseTo(inTurn.final.total, 6);
    expect(maxDifference(pooled.image.data, inTurn.image.data)).toBeLessThan(1e-3);
    expect(pooled.final.total).toBeLessThan(pooled.initial.total);
  }, 120_000);

  it('fails the run with the code of a tile that failed in a worker', async () => {
    // An infinite learning rate makes the first tile's loss diverge.
    const run = stylize(
      { content, styles: [style] },
      { ...options, optimizer: 'adam', learningRate: 1e30 },
      {
        weights,
        scales,
        tileRoundIterations: ROUND,
        tileRunner,
      },
    );
    await expect(run).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/loss/),
    });
  }, 120_000);

  it('stops the workers at an abort, with a checkpoint at the start of the round under way', async () => {
    const context = { weights, scales, tileRoundIterations: ROUND, tileRunner };
    const aborted = await abortedAtFirstTile({ content, styles: [style] }, options, context);
    expect(aborted.checkpoint).toMatchObject({
      scaleIndex: 0,
      iteration: 0,
      image: { width: 400, height: 160 },
    });
    // The pool still runs the next run's tiles: an abort ends tasks, not the pool.
    const after = await stylize({ content, styles: [style] }, options, {
      weights,
      scales: [{ width: 400, height: 160, iterations: 1 }],
      tileRunner,
    });
    expect(after.iterations).toBe(1);
  }, 120_000);
});

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
