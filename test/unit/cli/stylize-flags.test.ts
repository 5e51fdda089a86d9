import { describe, expect, it } from 'vitest';
import { parseOptionValue } from '../../../src/cli/stylize-flags.js';

describe('stylize option flags', () => {
  it('parses flag values as users type them', () => {
    expect(parseOptionValue('number', '1e3')).toBe(1000);
    expect(parseOptionValue('number', 'abc')).toBe('abc');
    expect(parseOptionValue('list', '1,0.5,0,0,0.1')).toEqual([1, 0.5, 0, 0, 0.1]);
    expect(parseOptionValue('number-or-list', '200')).toBe(200);
    expect(parseOptionValue('number-or-list', '50,30,80')).toEqual([50, 30, 80]);
  });
});
