/** The tiles objects' layout: arrays round-trip exactly, and a truncated or foreign object is refused. */
import { describe, expect, it } from 'vitest';
import {
  decodeArrays,
  encodeArrays,
  getTileInput,
  getTileOutput,
  putArrays,
  putTileInput,
  putTileOutput,
  tileObjectKeys,
} from '../../../../src/jobs/tiled/tile-objects.js';
import { ObjectStore } from '../../../../src/storage/object-store.js';
import { memoryS3 } from '../../../helpers/memory-s3.js';

describe('tiles objects', () => {
  it('keeps every float of every array, in order, from any byte offset', () => {
    const arrays = [
      Float32Array.of(1.5, -2, Math.PI),
      new Float32Array(0),
      Float32Array.of(Number.MAX_VALUE),
    ];
    const bytes = encodeArrays(arrays);
    expect(bytes.length).toBe(4 * (1 + 3) + 4 * 4);
    expect(decodeArrays(bytes, 'x')).toEqual(arrays);
    // A body that does not start 4-byte aligned (a slice of a larger buffer) reads the same.
    const unaligned = Buffer.concat([Buffer.from([0]), bytes]).subarray(1);
    expect(decodeArrays(unaligned, 'x')).toEqual(arrays);
  });

  it('refuses a truncated object or one of another layout, naming it', () => {
    const bytes = encodeArrays([Float32Array.of(1, 2)]);
    expect(() => decodeArrays(bytes.subarray(0, bytes.length - 1), 's3://b/k')).toThrow(
      's3://b/k is not a tiles object',
    );
    expect(() => decodeArrays(Buffer.from('{"json": true}'), 's3://b/k')).toThrow('is not a tiles object');
    expect(() => decodeArrays(Buffer.alloc(0), 's3://b/k')).toThrow('is not a tiles object');
  });

  it("keeps a tile's round input and output, with or without its optimiser's scale", async () => {
    const store = new ObjectStore(memoryS3().client, 'bucket');
    const grams = [Float32Array.of(1, 2), Float32Array.of(3)];
    const start = Float32Array.of(0.5, -0.5);
    await putTileInput(store, 'in-0', { start, gamma: 0.25, grams });
    await putTileInput(store, 'in-1', { start, grams });
    expect(await getTileInput(store, 'in-0', 2)).toEqual({ start, gamma: 0.25, grams });
    expect(await getTileInput(store, 'in-1', 2)).toEqual({ start, gamma: undefined, grams });

    const state = { grams, terms: { content: 1, style: 2, tv: 0.5, total: 3.5 } };
    await putTileOutput(store, 'out-0', { pixels: start, state, gamma: 2 });
    expect(await getTileOutput(store, 'out-0', 2)).toEqual({ pixels: start, state, gamma: 2 });
  });

  it('refuses a tile object of another layout (another count of Grams, or a gamma of several floats)', async () => {
    const store = new ObjectStore(memoryS3().client, 'bucket');
    await putTileInput(store, 'in-0', { start: Float32Array.of(1), grams: [Float32Array.of(1)] });
    await expect(getTileInput(store, 'in-0', 2)).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/in-0 holds 3 arrays, not the 4 expected/),
    });
    await putArrays(store, 'in-1', [Float32Array.of(1), Float32Array.of(1, 2), Float32Array.of(1)]);
    await expect(getTileInput(store, 'in-1', 1)).rejects.toMatchObject({ message: /gamma is one float/ });
  });

  it('names each object by scale, round and tile under the job outputs tiles/ folder', () => {
    const keys = tileObjectKeys('photo-1', 3);
    expect([keys.targets, keys.terms, keys.residual(2), keys.input(2, 7), keys.output(2, 7)]).toEqual([
      'outputs/photo-1/tiles/s3/targets.f32',
      'outputs/photo-1/tiles/s3/terms.json',
      'outputs/photo-1/tiles/s3/r2/residual.f32',
      'outputs/photo-1/tiles/s3/r2/in-7.f32',
      'outputs/photo-1/tiles/s3/r2/out-7.f32',
    ]);
  });
});
