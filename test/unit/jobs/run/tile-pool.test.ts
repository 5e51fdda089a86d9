/** The tile workers of a run here: how many by default (cores, tiles, memory), and `--workers` values. */
import { describe, expect, it } from 'vitest';
import { stylizeOptionsSchema } from '../../../../src/engine/options.js';
import { planTiles } from '../../../../src/engine/tiling.js';
import { generateVggWeights } from '../../../../src/engine/vgg.js';
import { jobShape, MEMORY_MARGIN } from '../../../../src/jobs/run/routing.js';
import {
  parseTileWorkers,
  peakWithWorkers,
  TILE_WORKER_THREADS,
  tileWorkersFor,
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

describe('tileWorkersFor', () => {
  it('is one for an untiled job, or on an engine without tiles', () => {
    expect(tileWorkersFor('auto', shapeAt(1024), 'onnx', plenty)).toBe(1);
    expect(tileWorkersFor('auto', shapeAt(2048, 768), 'tfjs', plenty)).toBe(1);
  });

  it(`gives each worker ${TILE_WORKER_THREADS} threads, and no more workers than a scale has tiles`, () => {
    const tiles = planTiles(2048, 1536, 768).tiles.length;
    expect(tiles).toBeLessThan(plenty.threads / TILE_WORKER_THREADS);
    expect(tileWorkersFor('auto', shapeAt(2048, 768), 'onnx', { ...plenty, threads: 2 })).toBe(1);
    expect(tileWorkersFor('auto', shapeAt(2048, 768), 'onnx', { ...plenty, threads: 7 })).toBe(3);
    expect(tileWorkersFor('auto', shapeAt(2048, 768), 'onnx', plenty)).toBe(tiles);
  });

  it('starts no more workers than the free memory holds beside the job, with the margin', () => {
    const job = shapeAt(4096, 768);
    // Just enough free memory for the peak with 3 workers, with the margin; then just too little.
    const room = (workers: number) => Math.ceil(peakWithWorkers(job, 'onnx', workers) / MEMORY_MARGIN) + 1;
    expect(tileWorkersFor('auto', job, 'onnx', { threads: 16, availableMb: room(3) })).toBe(3);
    expect(tileWorkersFor('auto', job, 'onnx', { threads: 16, availableMb: room(3) - 2 })).toBe(2);
    expect(tileWorkersFor('auto', job, 'onnx', { threads: 16, availableMb: room(2) - 2 })).toBe(1);
    // Too little memory for even one: one, in turn on the run's own thread (the run's own estimate decides).
    expect(tileWorkersFor('auto', job, 'onnx', { threads: 16, availableMb: 100 })).toBe(1);
  });
});

describe('tileWorkersFor, asked for a number', () => {
  it('gives as many as asked, but no more than the most tiled scale has tiles, and one untiled', () => {
    const tiles = planTiles(2048, 1536, 768).tiles.length;
    expect(tileWorkersFor(3, shapeAt(2048, 768), 'onnx', plenty)).toBe(3);
    expect(tileWorkersFor(tiles + 5, shapeAt(2048, 768), 'onnx', plenty)).toBe(tiles);
    expect(tileWorkersFor(3, shapeAt(1024), 'onnx', plenty)).toBe(1);
    // Asked for, a pool is not limited by memory: the user chose it.
    expect(tileWorkersFor(3, shapeAt(2048, 768), 'onnx', { threads: 64, availableMb: 100 })).toBe(3);
  });

  it('refuses more workers than threads, naming both', () => {
    expect(() => tileWorkersFor(4, shapeAt(2048, 768), 'onnx', { threads: 2, availableMb: 1 << 20 })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/--workers 4 .* 2 threads/),
      }),
    );
  });
});

describe('parseTileWorkers', () => {
  it('reads a whole number from 1, or auto', () => {
    expect(parseTileWorkers('3')).toBe(3);
    expect(parseTileWorkers('auto')).toBe('auto');
    expect(parseTileWorkers(undefined)).toBe('auto');
  });

  it.each(['0', '-1', '1.5', 'many', '', '1e3', '0x10'])('refuses %j, naming the flag', (raw) => {
    expect(() => parseTileWorkers(raw)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/--workers/) }),
    );
  });
});

describe('withTileWorkers', () => {
  it('runs without a pool for one worker, and with a runner of the pool for more', async () => {
    const weights = generateVggWeights(1);
    expect(
      await withTileWorkers({ workers: 1, threads: 2, weights }, async (runner) => runner),
    ).toBeUndefined();
    const seen = await withTileWorkers({ workers: 2, threads: 2, weights }, async (runner) => runner);
    expect(seen).toBeTypeOf('function');
  });
});
