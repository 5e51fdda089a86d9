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
});
