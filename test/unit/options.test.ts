import { describe, expect, it } from 'vitest';
import { parseStyleArg } from '../../src/cli/stylize.js';
import { parseOptionValue } from '../../src/cli/stylize-flags.js';
import { DEFAULT_STYLIZE_OPTIONS, stylizeOptionsSchema } from '../../src/engine/options.js';
import { parseBooleanText } from '../../src/text.js';
import { describeIssues } from '../../src/validation.js';

describe('stylize options', () => {
  it('has defaults for a good 512 px result', () => {
    expect(DEFAULT_STYLIZE_OPTIONS).toMatchObject({
      size: 512,
      optimizer: 'lbfgs',
      pooling: 'avg',
      init: 'content',
    });
    expect(DEFAULT_STYLIZE_OPTIONS.styleLayerWeights).toEqual([1, 0.8, 0.5, 0.3, 0.1]);
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

  it('parses flag values as users type them', () => {
    expect(parseOptionValue('number', '1e3')).toBe(1000);
    expect(parseOptionValue('number', 'abc')).toBe('abc');
    expect(parseOptionValue('list', '1,0.5,0,0,0.1')).toEqual([1, 0.5, 0, 0, 0.1]);
  });

  it('reads yes/no text the same way everywhere (flags, S3 metadata)', () => {
    for (const yes of ['true', 'YES', ' on ', '1']) expect(parseBooleanText(yes)).toBe(true);
    for (const no of ['false', 'No', 'off', '0']) expect(parseBooleanText(no)).toBe(false);
    expect(parseBooleanText('maybe')).toBeUndefined();
  });

  it('splits a style weight off the last colon only when it is a number', () => {
    expect(parseStyleArg('a.jpg')).toEqual({ path: 'a.jpg', weight: 1 });
    expect(parseStyleArg('a.jpg:0.3')).toEqual({ path: 'a.jpg', weight: 0.3 });
    expect(parseStyleArg('dir:x/a.jpg')).toEqual({ path: 'dir:x/a.jpg', weight: 1 });
    expect(parseStyleArg('a.jpg:2')).toEqual({ path: 'a.jpg', weight: 2 });
  });
});
