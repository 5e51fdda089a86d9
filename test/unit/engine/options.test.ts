import { describe, expect, it } from 'vitest';
import { DEFAULT_LOSS_WEIGHTS } from '../../../src/engine/losses.js';
import { DEFAULT_STYLIZE_OPTIONS, stylizeOptionsSchema } from '../../../src/engine/options.js';
import { STYLE_STRENGTH, styleWeightAt, styleWeightOf } from '../../../src/engine/style-strength.js';
import { describeIssues } from '../../../src/validation.js';

describe('stylize options', () => {
  it('has defaults for a good 512 px result', () => {
    expect(DEFAULT_STYLIZE_OPTIONS).toMatchObject({
      size: 512,
      optimizer: 'lbfgs',
      pooling: 'avg',
      init: 'content',
    });
    expect(DEFAULT_STYLIZE_OPTIONS.styleLayerWeights).toEqual([1, 0.8, 0.5, 0.3, 0.1]);
    // L-BFGS: jcjohnson's fixed step and a 20-pair history (LBFGS_DEFAULTS), so results stay as they were.
    expect(DEFAULT_STYLIZE_OPTIONS).toMatchObject({ lbfgsHistory: 20, lineSearch: 'none' });
  });

  it('lists every problem at once, by option name', () => {
    const parsed = stylizeOptionsSchema.safeParse({
      size: -5,
      pooling: 'median',
      styleLayerWeights: [1, 2],
      bogus: 1,
    });
    expect(parsed.success).toBe(false);
    const problems = describeIssues(parsed.error!, (p) => `--${p.join('.')}`).join('\n');
    expect(problems).toMatch(/--size/);
    expect(problems).toMatch(/--pooling/);
    expect(problems).toMatch(/--styleLayerWeights/);
    expect(problems).toMatch(/--bogus: .*bogus/);
  });

  it('colour matching is off unless asked for; averaging is unset (off)', () => {
    expect(DEFAULT_STYLIZE_OPTIONS.colorMatch).toBe(false);
    expect(DEFAULT_STYLIZE_OPTIONS.averageDecay).toBeUndefined();
    expect(stylizeOptionsSchema.parse({ colorMatch: true }).colorMatch).toBe(true);
    expect(stylizeOptionsSchema.parse({ optimizer: 'adam', averageDecay: 0.9 }).averageDecay).toBe(0.9);
    expect(stylizeOptionsSchema.parse({ optimizer: 'adam', averageDecay: 0 }).averageDecay).toBe(0);
  });

  it('refuses an average decay outside [0, 1)', () => {
    for (const averageDecay of [-0.1, 1, 2]) {
      expect(stylizeOptionsSchema.safeParse({ optimizer: 'adam', averageDecay }).success).toBe(false);
    }
  });

  it('refuses iterate averaging with L-BFGS, naming the option and the fix; 0 (off) is fine', () => {
    const parsed = stylizeOptionsSchema.safeParse({ averageDecay: 0.99 });
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!, (p) => `--${p.join('.')}`)).toEqual([
      '--averageDecay: iterate averaging is for Adam only: use optimizer adam, or leave averageDecay unset with lbfgs',
    ]);
    expect(stylizeOptionsSchema.safeParse({ optimizer: 'lbfgs', averageDecay: 0 }).success).toBe(true);
  });

  it('sets the style weight by strength unless an expert sets it, never both', () => {
    expect(DEFAULT_STYLIZE_OPTIONS.styleStrength).toBeUndefined();
    expect(DEFAULT_STYLIZE_OPTIONS.styleWeight).toBeUndefined();
    expect(stylizeOptionsSchema.parse({ styleStrength: 7 }).styleStrength).toBe(7);
    expect(stylizeOptionsSchema.parse({ styleWeight: 5e3 }).styleWeight).toBe(5e3);
    const both = stylizeOptionsSchema.safeParse({ styleStrength: 7, styleWeight: 5e3 });
    expect(describeIssues(both.error!, (p) => `--${p.join('.')}`)).toEqual([
      '--styleWeight: the style strength and the style weight both set beta, the style loss weight: give one of them',
    ]);
    for (const styleStrength of [0, 0.99, 10.01, Number.NaN]) {
      expect(stylizeOptionsSchema.safeParse({ styleStrength }).success, String(styleStrength)).toBe(false);
    }
  });
});

describe('style strength', () => {
  it('doubles the style weight per step, from the default loss weights at the default strength', () => {
    expect(styleWeightAt(STYLE_STRENGTH.default)).toBe(DEFAULT_LOSS_WEIGHTS.style);
    expect(styleWeightAt(STYLE_STRENGTH.default + 1)).toBe(2 * DEFAULT_LOSS_WEIGHTS.style);
    expect(styleWeightAt(STYLE_STRENGTH.default - 0.5)).toBeCloseTo(
      DEFAULT_LOSS_WEIGHTS.style / Math.SQRT2,
      6,
    );
    expect(styleWeightAt(STYLE_STRENGTH.max) / styleWeightAt(STYLE_STRENGTH.min)).toBe(512);
  });

  it("takes an expert's styleWeight over the strength, and the default strength when neither is set", () => {
    expect(styleWeightOf({ styleWeight: 123 })).toBe(123);
    expect(styleWeightOf({ styleStrength: 6 })).toBe(2 * DEFAULT_LOSS_WEIGHTS.style);
    expect(styleWeightOf(DEFAULT_STYLIZE_OPTIONS)).toBe(DEFAULT_LOSS_WEIGHTS.style);
  });
});
