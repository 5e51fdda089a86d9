/** Colour histogram matching: the style's mean and covariance become the content's. */
import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/engine/types.js';
import { matchColours, symmetricEigen3 } from '../../../src/image/colour-match.js';
import { photoLike, solid } from '../../helpers/images.js';

/** Independent reference: mean and population covariance in float64, straight from the definition. */
function stats(image: RgbImage): { mean: number[]; cov: number[][] } {
  const n = image.data.length / 3;
  const at = (p: number, k: number) => image.data[p * 3 + k];
  const mean = [0, 1, 2].map((k) => {
    let sum = 0;
    for (let p = 0; p < n; p++) sum += at(p, k);
    return sum / n;
  });
  const cov = [0, 1, 2].map((j) =>
    [0, 1, 2].map((k) => {
      let sum = 0;
      for (let p = 0; p < n; p++) sum += (at(p, j) - mean[j]) * (at(p, k) - mean[k]);
      return sum / n;
    }),
  );
  return { mean, cov };
}

/** A style whose colours differ from photoLike's in mean, spread and correlation. */
function painting(width: number, height: number): RgbImage {
  const base = photoLike(width, height, 7);
  const d = base.data;
  const data = new Float32Array(d.length);
  for (let i = 0; i < d.length; i += 3) {
    data[i] = 0.3 * d[i] + 0.2 * d[i + 2] + 30;
    data[i + 1] = 0.6 * d[i + 1] + 0.1 * d[i] + 10;
    data[i + 2] = 0.2 * d[i + 2] + 0.4 * d[i + 1] + 120;
  }
  return { width, height, data };
}

const permuteChannels = (image: RgbImage, order: readonly number[]): RgbImage => {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i += 3) for (let k = 0; k < 3; k++) data[i + k] = image.data[i + order[k]];
  return { ...image, data };
};

/** photoLike's colours squeezed towards mid-grey, so a style matched to them stays inside 0..255. */
function photo(width: number, height: number): RgbImage {
  const { data } = photoLike(width, height, 1);
  return { width, height, data: data.map((v) => 0.6 * v + 50) };
}

describe('matchColours', () => {
  const content = photo(40, 32);
  const style = painting(36, 30);

  it("gives the style the content's mean and covariance", () => {
    const out = matchColours(style, content);
    expect([out.width, out.height]).toEqual([36, 30]);
    // Nothing was clamped here, so the statistics match to float32 rounding.
    expect(Math.min(...out.data)).toBeGreaterThan(0);
    expect(Math.max(...out.data)).toBeLessThan(255);
    const got = stats(out);
    const want = stats(content);
    for (let j = 0; j < 3; j++) {
      expect(got.mean[j]).toBeCloseTo(want.mean[j], 3);
      for (let k = 0; k < 3; k++) expect(got.cov[j][k]).toBeCloseTo(want.cov[j][k], 1);
    }
    // ...and the style's were far from them: the test is not trivially true.
    expect(Math.abs(stats(style).cov[0][0] - want.cov[0][0])).toBeGreaterThan(500);
  });

  it('is the identity when the style already has the content colours', () => {
    // The content's own pixels, reversed: another image with exactly the same statistics.
    const data = new Float32Array(content.data.length);
    for (let p = 0; p < data.length / 3; p++)
      data.set(content.data.subarray(p * 3, p * 3 + 3), data.length - 3 - p * 3);
    const reversed = { ...content, data };
    const out = matchColours(reversed, content);
    for (let i = 0; i < data.length; i++) expect(Math.abs(out.data[i] - data[i])).toBeLessThan(1e-3);
  });

  it('gives the same colours whatever the channel order (unlike a Cholesky factor)', () => {
    const order = [2, 0, 1];
    const permuted = matchColours(permuteChannels(style, order), permuteChannels(content, order));
    const expected = permuteChannels(matchColours(style, content), order);
    for (let i = 0; i < expected.data.length; i++)
      expect(Math.abs(permuted.data[i] - expected.data[i])).toBeLessThan(1e-3);
  });

  it('turns a flat-colour style into the content mean colour, without NaN', () => {
    const out = matchColours(solid(8, 8, [200, 10, 10]), content);
    const { mean } = stats(content);
    for (let i = 0; i < out.data.length; i++) expect(out.data[i]).toBeCloseTo(mean[i % 3], 3);
  });

  it('maps a greyscale style onto one axis of colour around the content mean', () => {
    const grey = photoLike(30, 30, 3);
    for (let i = 0; i < grey.data.length; i += 3) grey.data[i + 1] = grey.data[i + 2] = grey.data[i];
    const out = matchColours(grey, content);
    for (const v of out.data) expect(Number.isFinite(v)).toBe(true);
    const got = stats(out);
    // A greyscale image has one colour direction, so the result's covariance has rank 1: det = 0.
    const c = got.cov;
    const det =
      c[0][0] * (c[1][1] * c[2][2] - c[1][2] ** 2) -
      c[0][1] * (c[0][1] * c[2][2] - c[1][2] * c[0][2]) +
      c[0][2] * (c[0][1] * c[1][2] - c[1][1] * c[0][2]);
    expect(Math.abs(det)).toBeLessThan(1e-3 * c[0][0] * c[1][1] * c[2][2]);
    const want = stats(content);
    for (let k = 0; k < 3; k++) expect(Math.abs(got.mean[k] - want.mean[k])).toBeLessThan(1);
  });

  it('turns the style flat when the content is flat, and clamps to 0..255', () => {
    const out = matchColours(style, solid(4, 4, [250, 128, 3]));
    for (let i = 0; i < out.data.length; i++) expect(out.data[i]).toBeCloseTo([250, 128, 3][i % 3], 3);
    // A content with a wide spread pushes a style with long tails past 0..255: clamped, never outside.
    const wide = matchColours(photoLike(20, 20, 9), {
      width: 2,
      height: 1,
      data: Float32Array.from([0, 0, 0, 255, 255, 255]),
    });
    for (const v of wide.data) expect(v >= 0 && v <= 255).toBe(true);
  });

  it('leaves its inputs as they were', () => {
    const [s, c] = [Float32Array.from(style.data), Float32Array.from(content.data)];
    matchColours(style, content);
    expect(style.data).toEqual(s);
    expect(content.data).toEqual(c);
  });
});

describe('symmetricEigen3', () => {
  const reconstruct = ({ values, vectors: v }: { values: number[]; vectors: number[] }) =>
    Array.from({ length: 9 }, (_, ij) => {
      const [i, j] = [Math.floor(ij / 3), ij % 3];
      return values.reduce((sum, lambda, k) => sum + v[i * 3 + k] * lambda * v[j * 3 + k], 0);
    });

  it.each([
    ['a dense matrix', [4, 1, -2, 1, 3, 0.5, -2, 0.5, 5]],
    ['a diagonal one', [3, 0, 0, 0, 1, 0, 0, 0, 2]],
    ['repeated eigenvalues', [2, 1, 1, 1, 2, 1, 1, 1, 2]],
    ['rank one (a greyscale image)', [1, 1, 1, 1, 1, 1, 1, 1, 1]],
    ['zero', [0, 0, 0, 0, 0, 0, 0, 0, 0]],
    ['equal diagonal entries', [5, 2, 0, 2, 5, 0, 0, 0, 1]],
  ])('decomposes %s: V diag V^T = M, V orthonormal', (_, m) => {
    const e = symmetricEigen3(m);
    const back = reconstruct(e);
    for (let i = 0; i < 9; i++) expect(back[i]).toBeCloseTo(m[i], 10);
    const gram = reconstruct({ values: [1, 1, 1], vectors: e.vectors });
    for (let i = 0; i < 9; i++) expect(gram[i]).toBeCloseTo(i % 4 === 0 ? 1 : 0, 12);
  });
});
