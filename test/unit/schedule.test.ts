import { describe, expect, it } from 'vitest';
import { estimateCost } from '../../src/engine/cost-model.js';
import { iterationGflop } from '../../src/engine/flops.js';
import { planScales } from '../../src/engine/schedule.js';

describe('planScales', () => {
  it('grows by about sqrt(2) from the minimum size to exactly the target', () => {
    const scales = planScales({ width: 512, height: 384, minSize: 128, iterations: 100 });
    expect(scales.map((s) => s.width)).toEqual([128, 181, 256, 362, 512]);
    expect(scales.at(-1)).toEqual({ width: 512, height: 384, iterations: 100 });
    for (let i = 1; i < scales.length; i++) {
      const growth = scales[i].width / scales[i - 1].width;
      expect(growth).toBeGreaterThan(1.3);
      expect(growth).toBeLessThan(1.5);
    }
  });

  it('keeps the aspect ratio at every scale', () => {
    for (const s of planScales({ width: 300, height: 1000, minSize: 100, iterations: 1 })) {
      expect(s.width / s.height).toBeCloseTo(0.3, 1);
    }
  });

  it('runs one scale when the target is not larger than the minimum', () => {
    expect(planScales({ width: 100, height: 80, minSize: 128, iterations: 7 })).toEqual([
      { width: 100, height: 80, iterations: 7 },
    ]);
    expect(planScales({ width: 128, height: 96, minSize: 128, iterations: 7 })).toHaveLength(1);
  });

  it('takes iterations per scale, repeating the last entry', () => {
    const scales = planScales({ width: 256, height: 256, minSize: 128, iterations: [50, 20] });
    expect(scales.map((s) => s.iterations)).toEqual([50, 20, 20]);
  });
});

describe('cost model', () => {
  it('counts about 94 GFLOP of convolutions per iteration at 256 px', () => {
    // Forward convs at 256 px: 47 GFLOP; forward + backward about 94.7.
    expect(iterationGflop(256, 256)).toBeCloseTo(94.7, 1);
    // Work grows with pixels.
    expect(iterationGflop(512, 512) / iterationGflop(256, 256)).toBeCloseTo(4, 1);
  });

  it('estimates more time for more pixels, iterations and slower engines, less for more threads', () => {
    const base = {
      width: 512,
      height: 512,
      options: { iterations: 100, minSize: 128 },
      engine: 'onnx' as const,
      threads: 2,
    };
    const t = estimateCost(base).seconds;
    expect(estimateCost({ ...base, width: 1024, height: 1024 }).seconds).toBeGreaterThan(3 * t);
    expect(estimateCost({ ...base, options: { iterations: 200, minSize: 128 } }).seconds).toBeGreaterThan(
      1.8 * t,
    );
    expect(estimateCost({ ...base, engine: 'tfjs' }).seconds).toBeGreaterThan(5 * t);
    // The WASM backend runs one thread under Node: more cores do not help it.
    expect(estimateCost({ ...base, engine: 'tfjs', threads: 8 }).seconds).toBe(
      estimateCost({ ...base, engine: 'tfjs' }).seconds,
    );
    expect(estimateCost({ ...base, threads: 6 }).seconds).toBeLessThan(t / 2);
    expect(estimateCost({ ...base, gpu: true }).seconds).toBeLessThan(t / 10);
    const est = estimateCost(base);
    expect(est.scales).toHaveLength(5);
    expect(est.scales.reduce((s, x) => s + x.seconds, 0)).toBeCloseTo(est.seconds, 6);
  });
});

describe('planScales for very wide images', () => {
  it('skips coarse scales whose short side is under 16 px and refuses a result under it', () => {
    const scales = planScales({ width: 512, height: 40, minSize: 128, iterations: 1 });
    expect(Math.min(...scales.map((s) => s.height))).toBeGreaterThanOrEqual(16);
    expect(scales.at(-1)).toMatchObject({ width: 512, height: 40 });
    expect(() => planScales({ width: 512, height: 10, minSize: 128, iterations: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/at least 16 px/) }),
    );
  });
});
