import { describe, expect, it } from 'vitest';
import { attachMasks, parseStyleArg } from '../../../src/cli/stylize.js';

describe('parseStyleArg', () => {
  it('splits a style weight off the last colon only when it is a number', () => {
    expect(parseStyleArg('a.jpg')).toEqual({ path: 'a.jpg', weight: 1 });
    expect(parseStyleArg('a.jpg:0.3')).toEqual({ path: 'a.jpg', weight: 0.3 });
    expect(parseStyleArg('dir:x/a.jpg')).toEqual({ path: 'dir:x/a.jpg', weight: 1 });
    expect(parseStyleArg('a.jpg:2')).toEqual({ path: 'a.jpg', weight: 2 });
  });
});

describe('attachMasks', () => {
  const styles = [parseStyleArg('a.jpg'), parseStyleArg('b.jpg:0.5'), parseStyleArg('c.jpg')];
  it('gives each --style-mask to the --style before it; styles without one keep none', () => {
    expect(
      attachMasks(styles, [
        { path: 'sky.png', stylesBefore: 1 },
        { path: 'ground.png', stylesBefore: 3 },
      ]),
    ).toEqual([
      { path: 'a.jpg', weight: 1, mask: 'sky.png' },
      { path: 'b.jpg', weight: 0.5 },
      { path: 'c.jpg', weight: 1, mask: 'ground.png' },
    ]);
  });

  it('refuses a mask before any style, and a second mask for one style, as INVALID_OPTION', () => {
    expect(() => attachMasks(styles, [{ path: 'sky.png', stylesBefore: 0 }])).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('--style-mask sky.png has no --style before it'),
      }),
    );
    expect(() =>
      attachMasks(styles, [
        { path: 'sky.png', stylesBefore: 2 },
        { path: 'ground.png', stylesBefore: 2 },
      ]),
    ).toThrow('--style b.jpg has two masks (sky.png and ground.png): one --style-mask per style');
  });
});
