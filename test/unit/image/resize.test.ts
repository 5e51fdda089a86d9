import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/engine/types.js';
import { fitLongestSide, resizeImage } from '../../../src/image/resize.js';
import { photoLike, solid } from '../../helpers/images.js';

/** The mean colour of an image. */
function meanRgb(image: RgbImage): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < image.data.length; i++) sum[i % 3] += image.data[i];
  const n = image.width * image.height;
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}

describe('resize', () => {
  it('shrinks with the mean colour kept', async () => {
    const source = photoLike(64, 48);
    const small = await resizeImage(source, 32, 24);
    expect([small.width, small.height, small.data.length]).toEqual([32, 24, 32 * 24 * 3]);
    const [a, b] = [meanRgb(source), meanRgb(small)];
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThan(1.5);
    expect(Math.min(...small.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...small.data)).toBeLessThanOrEqual(255);
  });

  it('enlarges smoothly', async () => {
    const big = await resizeImage(photoLike(16, 12), 48, 37);
    expect([big.width, big.height, big.data.length]).toEqual([48, 37, 48 * 37 * 3]);
    const [a, b] = [meanRgb(photoLike(16, 12)), meanRgb(big)];
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThan(3);
  });

  it('keeps sub-8-bit precision (16-bit path)', async () => {
    const colour: [number, number, number] = [100.3, 0.25, 254.7];
    const up = await resizeImage(solid(20, 20, colour), 27, 29);
    for (let i = 0; i < up.data.length; i++) expect(Math.abs(up.data[i] - colour[i % 3])).toBeLessThan(0.005);
    // Shrinking: libvips's fixed-point Lanczos weights shift flat areas by up to 0.2%.
    const down = await resizeImage(solid(20, 20, colour), 7, 9);
    for (let i = 0; i < down.data.length; i++)
      expect(Math.abs(down.data[i] - colour[i % 3])).toBeLessThan(0.5);
  });

  it('returns a copy at the same size and rejects bad sizes', async () => {
    const source = photoLike(8, 8);
    const same = await resizeImage(source, 8, 8);
    expect(same.data).toEqual(source.data);
    expect(same.data).not.toBe(source.data);
    await expect(resizeImage(source, 0, 4)).rejects.toThrow(RangeError);
    await expect(resizeImage(source, 4.5, 4)).rejects.toThrow(RangeError);
  });

  it('fits the longest side', () => {
    expect(fitLongestSide(1024, 768, 512)).toEqual({ width: 512, height: 384 });
    expect(fitLongestSide(768, 1024, 512)).toEqual({ width: 384, height: 512 });
    expect(fitLongestSide(300, 200, 600)).toEqual({ width: 600, height: 400 });
    expect(fitLongestSide(300, 200, 600, false)).toEqual({ width: 300, height: 200 });
    expect(fitLongestSide(3000, 2, 100)).toEqual({ width: 100, height: 1 });
    expect(() => fitLongestSide(100, 100, 0)).toThrow(RangeError);
  });
});
