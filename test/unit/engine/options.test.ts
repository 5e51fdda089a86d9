import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS, stylizeOptionsSchema } from '../../../src/engine/options.js';
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
});
