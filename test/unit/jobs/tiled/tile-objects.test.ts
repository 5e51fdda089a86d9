/** The tiles objects' layout: arrays round-trip exactly, and a truncated or foreign object is refused. */
import { describe, expect, it } from 'vitest';
import {
  decodeArrays,
  encodeArrays,
  termsArray,
  termsOf,
  tileObjectKeys,
} from '../../../../src/jobs/tiled/tile-objects.js';

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

  it('keeps loss terms as four floats', () => {
    const terms = { content: 1, style: 2, tv: 0.5, total: 3.5 };
    expect(termsOf(termsArray(terms))).toEqual(terms);
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
