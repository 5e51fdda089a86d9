/** The tile workers of a run here: how many by default (cores, tiles, memory), and `--workers` values. */
import { describe, expect, it } from 'vitest';
import { stylizeOptionsSchema } from '../../../../src/engine/options.js';
import { planTiles } from '../../../../src/engine/tiling.js';
import { generateVggWeights } from '../../../../src/engine/vgg.js';
import { jobShape, MEMORY_MARGIN } from '../../../../src/jobs/run/routing.js';
import {
  defaultTileWorkers,
  parseTileWorkers,
  peakWithWorkers,
  TILE_WORKER_THREADS,
  withTileWorkers,
} from '../../../../src/jobs/run/tile-pool.js';
import { photoLike } from '../../../helpers/images.js';

const decoded = {
  content: photoLike(64, 48, 1),
  styles: [{ image: photoLike(64, 64, 2), weight: 1 }],
};
const shapeAt = (size: number, tileSize?: number) =>
  jobShape(decoded as never, stylizeOptionsSchema.parse({ size, tileSize }), {
    width: size,
    height: Math.round(size * 0.75),
  });
const plenty = { threads: 64, availableMb: 1 << 20 };

describe('defaultTileWorkers', () => {
  it('is one for an untiled job, or on an engine without tiles', () => {
    expect(defaultTileWorkers(shapeAt(1024), 'onnx', plenty)).toBe(1);
    expect(defaultTileWorkers(shapeAt(2048, 768), 'tfjs', plenty)).toBe(1);
  });

  it(`gives each worker ${TILE_WORKER_THREADS} threads, and no more workers than a scale has tiles`, () => {
    const tiles = planTiles(2048, 1536, 768).tiles.length;
    expect(tiles).toBeLessThan(plenty.threads / TILE_WORKER_THREADS);
    expect(defaultTileWorkers(shapeAt(2048, 768), 'onnx', { ...plenty, threads: 2 })).toBe(1);
    expect(defaultTileWorkers(shapeAt(2048, 768), 'onnx', { ...plenty, threads: 7 })).toBe(3);
    expect(defaultTileWorkers(shapeAt(2048, 768), 'onnx', plenty)).toBe(tiles);
  });

  it('starts no more workers than the free memory holds beside the job, with the margin', () => {
    const job = shapeAt(4096, 768);
    const one = peakWithWorkers(job, 'onnx', 1);
    const perWorker = peakWithWorkers(job, 'onnx', 2) - one;
    const room = (workers: number) => Math.ceil((one + (workers - 1) * perWorker) / MEMORY_MARGIN) + 1;
    expect(defaultTileWorkers(job, 'onnx', { threads: 16, availableMb: room(3) })).toBe(3);
    expect(defaultTileWorkers(job, 'onnx', { threads: 16, availableMb: room(3) - perWorker })).toBe(2);
    // Too little memory for even one: one, in turn on the run's own thread (the run's own estimate decides).
    expect(defaultTileWorkers(job, 'onnx', { threads: 16, availableMb: 100 })).toBe(1);
  });
});

describe('parseTileWorkers', () => {
  it('reads a whole number from 1, or auto', () => {
    expect(parseTileWorkers('3')).toBe(3);
    expect(parseTileWorkers('auto')).toBe('auto');
    expect(parseTileWorkers(undefined)).toBe('auto');
  });

  it.each(['0', '-1', '1.5', 'many', ''])('refuses %j, naming the flag', (raw) => {
    expect(() => parseTileWorkers(raw)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/--workers/) }),
    );
  });
});

describe('withTileWorkers', () => {
  it('runs without a pool for one worker, and closes the pool it starts', async () => {
    const weights = generateVggWeights(1);
    expect(
      await withTileWorkers({ workers: 1, threads: 2, weights }, async (runner) => runner),
    ).toBeUndefined();
    const seen = await withTileWorkers({ workers: 2, threads: 2, weights }, async (runner) => runner);
    expect(seen).toBeTypeOf('function');
  });
});
