import { describe, expect, it } from 'vitest';
import { planScales } from '../../../src/engine/schedule.js';

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
