import { describe, expect, it } from 'vitest';
import { parseStyleArg } from '../../../src/cli/stylize.js';

describe('parseStyleArg', () => {
  it('splits a style weight off the last colon only when it is a number', () => {
    expect(parseStyleArg('a.jpg')).toEqual({ path: 'a.jpg', weight: 1 });
    expect(parseStyleArg('a.jpg:0.3')).toEqual({ path: 'a.jpg', weight: 0.3 });
    expect(parseStyleArg('dir:x/a.jpg')).toEqual({ path: 'dir:x/a.jpg', weight: 1 });
    expect(parseStyleArg('a.jpg:2')).toEqual({ path: 'a.jpg', weight: 2 });
  });
});
