/** The FLOP counts of flops.ts that the bench and the cost model rely on. */
import { describe, expect, it } from 'vitest';
import { iterationGflop, singleConvGflop } from '../../../src/engine/flops.js';

describe('FLOP counts', () => {
  it('counts forward and input-gradient convs through relu5_1', () => {
    expect(singleConvGflop(64, 64, 256, 256)).toBeCloseTo((2 * 64 * 64 * 9 * 256 * 256) / 1e9, 12);
    // 224x224: the forward convs through relu5_1 are 36.25 GFLOP (18.1 GMAC); the input gradients double it.
    const forward = iterationGflop(224, 224) / 2;
    expect(forward).toBeGreaterThan(36);
    expect(forward).toBeLessThan(37);
  });
});
