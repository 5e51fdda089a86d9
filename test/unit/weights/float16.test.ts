import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/weights/float16.js';

describe('float16 codec', () => {
  it('decodes known half values', () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x8000, 0x7c00, 0xfc00]);
    expect([...float16ToFloat32(bits)]).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      2 ** -14,
      0.333251953125,
      -0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(float16ToFloat32(new Uint16Array([0x7e00]))[0]).toBeNaN();
  });

  it('round-trips every half value and rounds midpoints to even', () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
    const values = float16ToFloat32(all);
    const back = float32ToFloat16(values);
    for (let h = 0; h < 0x10000; h++) {
      if (Number.isNaN(values[h]))
        expect(Number.isNaN(float16ToFloat32(back.subarray(h, h + 1))[0])).toBe(true);
      else if (back[h] !== h) expect.fail(`half 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
    }
    // 1 + 2^-11 is halfway between 1 (even mantissa) and 1 + 2^-10: ties go to even; just above rounds up.
    expect([
      ...float32ToFloat16(new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20])),
    ]).toEqual([0x3c00, 0x3c02, 0x3c01]);
    expect([...float32ToFloat16(new Float32Array([65520, 1e9, 2 ** -26, -(2 ** -25) * 3]))]).toEqual([
      0x7c00, 0x7c00, 0x0000, 0x8002,
    ]);
  });
});
