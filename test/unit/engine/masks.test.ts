import { describe, expect, it } from 'vitest';
import { styleRegions } from '../../../src/engine/masks.js';
import type { MaskImage, StyleImage } from '../../../src/engine/types.js';
import { maskOf } from '../../helpers/engine-spec.js';

const image = { width: 16, height: 16, data: new Float32Array(16 * 16 * 3) };
const style = (weight: number, mask?: MaskImage): StyleImage => ({
  image,
  weight,
  ...(mask ? { mask } : {}),
});

describe('styleRegions', () => {
  it('without masks: one region of every style, blended globally, no masks, M_l positions', () => {
    const [region, ...rest] = styleRegions(34, 20, [style(1), style(3)]);
    expect(rest).toEqual([]);
    expect(region.styles).toEqual([0, 1]);
    expect(region.blend).toEqual([0.25, 0.75]);
    expect(region.masks).toEqual([undefined, undefined, undefined, undefined, undefined]);
    // 34x20 -> 17x10 -> 8x5 -> 4x2 -> 2x1 (VGG's poolings floor).
    expect(region.effective).toEqual([680, 170, 40, 8, 2]);
  });

  it('groups the unmasked styles and the styles with equal masks, blending within each group', () => {
    const left = maskOf(32, 16, (_, x) => (x < 16 ? 1 : 0));
    const leftCopy = { ...left, data: left.data.slice() };
    const regions = styleRegions(32, 16, [style(1, left), style(2), style(3, leftCopy), style(2)]);
    expect(regions.map((r) => r.styles)).toEqual([
      [0, 2],
      [1, 3],
    ]);
    expect(regions.map((r) => r.blend)).toEqual([
      [0.25, 0.75],
      [0.5, 0.5],
    ]);
  });

  it('reads an all-white mask as no mask: its style blends with the unmasked ones by weight', () => {
    const white = maskOf(32, 16, () => 1);
    const [region, ...rest] = styleRegions(32, 16, [style(1, white), style(3)]);
    expect(rest).toEqual([]);
    expect(region.styles).toEqual([0, 1]);
    expect(region.blend).toEqual([0.25, 0.75]);
    expect(region.masks.every((m) => m === undefined)).toBe(true);
  });

  it('divides overlapping masks by their sum where it exceeds 1, and pools them 2x2 per VGG pooling', () => {
    // Left half: sky 1 and the unmasked style 1 (sum 2 -> 0.5 each); right half: the unmasked style alone.
    const sky = maskOf(32, 16, (_, x) => (x < 16 ? 1 : 0));
    const [masked, whole] = styleRegions(32, 16, [style(1, sky), style(1)]);
    expect(Array.from(masked.masks[0]!.slice(0, 32))).toEqual([...Array(16).fill(0.5), ...Array(16).fill(0)]);
    expect(Array.from(whole.masks[0]!.slice(0, 32))).toEqual([...Array(16).fill(0.5), ...Array(16).fill(1)]);
    // relu2_1 (16x8): a 2x2 average; E = sum of squares.
    expect(masked.masks[1]!.length).toBe(16 * 8);
    expect(masked.effective[0]).toBe(16 * 16 * 0.25);
    expect(whole.effective[0]).toBe(16 * 16 * 0.25 + 16 * 16);
    expect(masked.effective[4]).toBe(1 * 0.25); // relu5_1 is 2x1: one position half covered
  });

  it('leaves masks that sum to at most 1 as they are, and averages a partial window', () => {
    const a = maskOf(16, 16, (y, x) => (y === 0 && x === 0 ? 0.8 : 0));
    const b = maskOf(16, 16, (y, x) => (y === 0 && x === 1 ? 0.2 : 0));
    const [ra, rb] = styleRegions(16, 16, [style(1, a), style(1, b)]);
    expect(ra.masks[0]![0]).toBeCloseTo(0.8, 6);
    expect(rb.masks[0]![1]).toBeCloseTo(0.2, 6);
    expect(ra.masks[1]![0]).toBeCloseTo(0.2, 6);
    expect(rb.masks[1]![0]).toBeCloseTo(0.05, 6);
  });

  it('refuses a region whose blend weights are all zero', () => {
    const m = maskOf(16, 16, (_, x) => (x < 8 ? 1 : 0));
    expect(() => styleRegions(16, 16, [style(0, m), style(1)])).toThrow(/not all zero/);
  });
});
