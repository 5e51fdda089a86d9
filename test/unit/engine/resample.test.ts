import { describe, expect, it } from 'vitest';
import { resampleHwc, sizeForLongestSide } from '../../../src/engine/resample.js';

describe('resampleHwc', () => {
  it('keeps a constant image constant at any size', () => {
    const data = new Float32Array(7 * 5 * 3).fill(42);
    for (const [w, h] of [
      [3, 2],
      [14, 10],
      [7, 5],
      [1, 1],
      [20, 3],
    ]) {
      const out = resampleHwc(data, 7, 5, w, h);
      expect(out).toHaveLength(w * h * 3);
      for (const v of out) expect(v).toBeCloseTo(42, 4);
    }
  });

  it('averages when halving (antialiased) and keeps a linear ramp linear when upsampling', () => {
    // 4x1 single channel: [0, 10, 20, 30] -> 2x1 averages each pair's neighbourhood symmetrically.
    const ramp = Float32Array.from([0, 10, 20, 30]);
    const half = resampleHwc(ramp, 4, 1, 2, 1, 1);
    expect(half[0]).toBeLessThan(half[1]);
    expect((half[0] + half[1]) / 2).toBeCloseTo(15, 4);
    const up = resampleHwc(Float32Array.from([0, 10, 20, 30, 40, 50, 60, 70]), 8, 1, 16, 1, 1);
    // Interior samples of an upsampled ramp stay on the ramp: equal steps of 5.
    for (let i = 2; i < 13; i++) expect(up[i + 1] - up[i]).toBeCloseTo(5, 3);
  });

  it('returns a copy for the same size and rejects a wrong length', () => {
    const data = Float32Array.from([1, 2, 3]);
    const out = resampleHwc(data, 1, 1, 1, 1);
    expect(out).toEqual(data);
    expect(out).not.toBe(data);
    expect(() => resampleHwc(data, 2, 1, 1, 1)).toThrow(RangeError);
  });
});

describe('sizeForLongestSide', () => {
  it('sets the longest side and keeps the aspect ratio', () => {
    expect(sizeForLongestSide(1024, 768, 512)).toEqual({ width: 512, height: 384 });
    expect(sizeForLongestSide(768, 1024, 512)).toEqual({ width: 384, height: 512 });
    expect(sizeForLongestSide(5000, 10, 100)).toEqual({ width: 100, height: 1 });
  });
});
