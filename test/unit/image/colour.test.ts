import { describe, expect, it } from 'vitest';
import { luminanceOnly, transferLuminance } from '../../../src/image/colour.js';
import { photoLike } from '../../helpers/images.js';

describe('colour', () => {
  // Independent reference: the JPEG (full-range BT.601) YCbCr matrix.
  const ycbcr = ([r, g, b]: number[]) => [
    0.299 * r + 0.587 * g + 0.114 * b,
    128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
    128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
  ];
  const content = { width: 3, height: 1, data: Float32Array.from([200, 80, 60, 40, 120, 90, 128, 128, 128]) };
  const styled = { width: 3, height: 1, data: Float32Array.from([90, 100, 180, 150, 140, 160, 30, 200, 90]) };

  it('takes luminance from the styled image and chroma from the content', () => {
    const out = transferLuminance(styled, content);
    for (let p = 0; p < 3; p++) {
      const [y, cb, cr] = ycbcr(Array.from(out.data.subarray(p * 3, p * 3 + 3)));
      const [ys] = ycbcr(Array.from(styled.data.subarray(p * 3, p * 3 + 3)));
      const [, cbc, crc] = ycbcr(Array.from(content.data.subarray(p * 3, p * 3 + 3)));
      expect(y).toBeCloseTo(ys, 3);
      expect(cb).toBeCloseTo(cbc, 3);
      expect(cr).toBeCloseTo(crc, 3);
    }
  });

  it('requires images of the same size', () => {
    expect(() => transferLuminance(styled, photoLike(2, 2))).toThrow(RangeError);
  });

  it('replicates luminance in three channels', () => {
    const grey = luminanceOnly(content);
    for (let p = 0; p < 3; p++) {
      const [y] = ycbcr(Array.from(content.data.subarray(p * 3, p * 3 + 3)));
      expect(Array.from(grey.data.subarray(p * 3, p * 3 + 3)).map((v) => v.toFixed(3))).toEqual(
        Array(3).fill(y.toFixed(3)),
      );
    }
  });
});
