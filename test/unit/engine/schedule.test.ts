import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS } from '../../../src/engine/options.js';
import {
  CLASSIC_SCHEDULE,
  DEFAULT_SCHEDULE,
  iterationsAt,
  planScales,
} from '../../../src/engine/schedule.js';

describe('planScales', () => {
  it('grows by about sqrt(2) from the minimum size to exactly the target', () => {
    const scales = planScales({
      width: 512,
      height: 384,
      minSize: 128,
      iterations: 100,
      scaleGrowth: Math.SQRT2,
    });
    expect(scales.map((s) => s.width)).toEqual([128, 181, 256, 362, 512]);
    expect(scales.at(-1)).toEqual({ width: 512, height: 384, iterations: 100 });
    for (let i = 1; i < scales.length; i++) {
      const growth = scales[i].width / scales[i - 1].width;
      expect(growth).toBeGreaterThan(1.3);
      expect(growth).toBeLessThan(1.5);
    }
  });

  it('keeps the aspect ratio at every scale', () => {
    for (const s of planScales({ width: 300, height: 1000, minSize: 100, iterations: 1, scaleGrowth: 1.2 })) {
      expect(s.width / s.height).toBeCloseTo(0.3, 1);
    }
  });

  it('runs one scale when the target is not larger than the minimum', () => {
    expect(planScales({ width: 100, height: 80, minSize: 128, iterations: 7 })).toEqual([
      { width: 100, height: 80, iterations: 7 },
    ]);
    expect(planScales({ width: 128, height: 96, minSize: 128, iterations: 7 })).toHaveLength(1);
  });

  it("gives a list's last entry to the final scale and repeats the entry before it over the middle", () => {
    const its = (size: number, iterations: number[]) =>
      planScales({ width: size, height: size, minSize: 128, iterations, scaleGrowth: Math.SQRT2 }).map(
        (s) => s.iterations,
      );
    expect(its(512, [50, 30, 80])).toEqual([50, 30, 30, 30, 80]);
    expect(its(256, [50, 30, 80])).toEqual([50, 30, 80]);
    expect(its(181, [50, 30, 80])).toEqual([50, 80]);
    expect(its(128, [50, 30, 80])).toEqual([80]);
    expect(its(256, [50, 20])).toEqual([50, 50, 20]);
    expect(its(256, [70])).toEqual([70, 70, 70]);
  });
});

describe('iterationsAt', () => {
  it('reads a number as every scale and a list from both ends', () => {
    expect([0, 1, 2].map((i) => iterationsAt(200, i, 3))).toEqual([200, 200, 200]);
    expect([0, 1, 2, 3].map((i) => iterationsAt([10, 20, 30, 40], i, 4))).toEqual([10, 20, 30, 40]);
    expect([0, 1, 2, 3, 4, 5].map((i) => iterationsAt([10, 20, 30, 40], i, 6))).toEqual([
      10, 20, 30, 30, 30, 40,
    ]);
  });
});

describe('the schedules', () => {
  it('keeps the classic schedule expressible: 200 iterations at each of 5 scales from 128 px', () => {
    const scales = planScales({ width: 512, height: 384, ...CLASSIC_SCHEDULE });
    expect(scales.map((s) => [s.width, s.iterations])).toEqual([
      [128, 200],
      [181, 200],
      [256, 200],
      [362, 200],
      [512, 200],
    ]);
  });

  it('is what the options default to', () => {
    expect(DEFAULT_STYLIZE_OPTIONS.minSize).toBe(DEFAULT_SCHEDULE.minSize);
    expect(DEFAULT_STYLIZE_OPTIONS.scaleGrowth).toBe(DEFAULT_SCHEDULE.scaleGrowth);
    // 512 px: 128, 256, 512; 1024 px: one more; 362 px: 128 then 362 (the nearest whole number of doublings);
    // up to 181 px one scale.
    const plan = (w: number, h: number) =>
      planScales({ width: w, height: h, ...DEFAULT_STYLIZE_OPTIONS }).map((s) => [s.width, s.iterations]);
    expect(plan(512, 384)).toEqual([
      [128, 60],
      [256, 60],
      [512, 100],
    ]);
    expect(plan(1024, 768)).toEqual([
      [128, 60],
      [256, 60],
      [512, 60],
      [1024, 100],
    ]);
    expect(plan(362, 272)).toEqual([
      [128, 60],
      [362, 100],
    ]);
    expect(plan(181, 136)).toEqual([[181, 100]]);
    expect(DEFAULT_STYLIZE_OPTIONS.iterations).toEqual(DEFAULT_SCHEDULE.iterations);
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
