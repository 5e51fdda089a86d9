/**
 * Colour histogram matching (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer",
 * section 5): before stylising, each style image's colours are mapped linearly so that their mean and
 * covariance in RGB are the content's,
 *
 *   x' = A (x - mu_s) + mu_c,   A = Sigma_c^(1/2) Sigma_s^(-1/2)   (so A Sigma_s A^T = Sigma_c),
 *
 * then clamped to 0..255. The result keeps the photo's palette with the painting's texture. Pure functions,
 * no I/O: inputs are never modified.
 *
 * Why the symmetric square roots (an eigen-decomposition) rather than the Cholesky factors (A = L_c L_s^-1,
 * which maps the covariances equally well): a triangular factor treats the first channel specially, so
 * Cholesky's result changes when R, G and B are listed in another order; the symmetric roots give the same
 * colours whatever the channel order (a test holds it), and they are Gatys et al.'s formula as written.
 */
import type { RgbImage } from '../engine/types.js';

/**
 * A floor (in grey levels squared) on the style covariance's eigenvalues before Sigma_s^(-1/2): a
 * variance of about one 8-bit step (quantisation alone gives 1/12) carries no colour signal, so it is not
 * blown up to the content's spread. A flat-colour style (all eigenvalues 0) becomes the content's mean
 * colour; a greyscale style keeps one axis of colour. Styles with every direction above the floor (any
 * real painting) are matched exactly.
 */
const STYLE_VARIANCE_FLOOR = 1;

/** A 3x3 matrix, row-major. */
type Mat3 = number[];

interface ColourStats {
  readonly mean: [number, number, number];
  /** The RGB covariance (population, divided by the pixel count), row-major. */
  readonly covariance: Mat3;
}

/** The style's colours mapped to the content's mean and covariance (a new image at the style's size). */
export function matchColours(style: RgbImage, content: RgbImage): RgbImage {
  const s = colourStats(style);
  const c = colourStats(content);
  const transform = multiply(
    symmetricPower(c.covariance, 0.5, 0),
    symmetricPower(s.covariance, -0.5, STYLE_VARIANCE_FLOOR),
  );
  return applyAffine(style, transform, s.mean, c.mean);
}

/** Mean and covariance of an image's RGB values, in float64. */
function colourStats(image: RgbImage): ColourStats {
  const d = image.data;
  const n = d.length / 3;
  if (n === 0) throw new RangeError('colourStats needs at least one pixel');
  const mean: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < d.length; i += 3) {
    mean[0] += d[i];
    mean[1] += d[i + 1];
    mean[2] += d[i + 2];
  }
  for (let k = 0; k < 3; k++) mean[k] /= n;
  // Centred sums (two passes): accurate where the spread is small next to the mean.
  const covariance = new Array<number>(9).fill(0);
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] - mean[0];
    const g = d[i + 1] - mean[1];
    const b = d[i + 2] - mean[2];
    covariance[0] += r * r;
    covariance[1] += r * g;
    covariance[2] += r * b;
    covariance[4] += g * g;
    covariance[5] += g * b;
    covariance[8] += b * b;
  }
  for (const k of [0, 1, 2, 4, 5, 8]) covariance[k] /= n;
  covariance[3] = covariance[1];
  covariance[6] = covariance[2];
  covariance[7] = covariance[5];
  return { mean, covariance };
}

/** x' = A (x - from) + to for every pixel, clamped to 0..255. */
function applyAffine(image: RgbImage, a: Mat3, from: readonly number[], to: readonly number[]): RgbImage {
  const d = image.data;
  const out = new Float32Array(d.length);
  const clamp255 = (v: number) => Math.min(255, Math.max(0, v));
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] - from[0];
    const g = d[i + 1] - from[1];
    const b = d[i + 2] - from[2];
    out[i] = clamp255(a[0] * r + a[1] * g + a[2] * b + to[0]);
    out[i + 1] = clamp255(a[3] * r + a[4] * g + a[5] * b + to[1]);
    out[i + 2] = clamp255(a[6] * r + a[7] * g + a[8] * b + to[2]);
  }
  return { width: image.width, height: image.height, data: out };
}

/** M^p for a symmetric positive semi-definite M: V diag(max(lambda, floor)^p) V^T. */
function symmetricPower(m: Mat3, p: number, floor: number): Mat3 {
  const { values, vectors: v } = symmetricEigen3(m);
  // Rounding can leave a zero eigenvalue slightly negative; a variance is never below 0.
  const f = values.map((lambda) => Math.max(lambda, floor, 0) ** p);
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) out[i * 3 + j] += v[i * 3 + k] * f[k] * v[j * 3 + k];
    }
  }
  return out;
}

function multiply(a: Mat3, b: Mat3): Mat3 {
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) out[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
    }
  }
  return out;
}

/** The most Jacobi sweeps; a 3x3 converges (quadratically) in well under ten. */
const MAX_SWEEPS = 50;

/**
 * Eigenvalues and eigenvectors of a symmetric 3x3 matrix by cyclic Jacobi rotations (Numerical Recipes'
 * form): simple and accurate for any symmetric input, repeated or zero eigenvalues included. The
 * eigenvectors are the columns of `vectors` (row-major), orthonormal; M = V diag(values) V^T.
 */
export function symmetricEigen3(m: Mat3): { values: number[]; vectors: Mat3 } {
  const a = [...m];
  const v = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    const off = a[1] ** 2 + a[2] ** 2 + a[5] ** 2;
    const diagonal = a[0] ** 2 + a[4] ** 2 + a[8] ** 2;
    if (off === 0 || off <= 1e-30 * diagonal) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ] as const) {
      const apq = a[p * 3 + q];
      if (apq === 0) continue;
      // The rotation that zeroes a[p][q]: t = tan(angle), the smaller root, so the rotation stays small.
      const theta = (a[q * 3 + q] - a[p * 3 + p]) / (2 * apq);
      const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      rotate(a, p, q, c, s, column);
      rotate(a, p, q, c, s, row);
      rotate(v, p, q, c, s, column);
    }
  }
  return { values: [a[0], a[4], a[8]], vectors: v };
}

/** Where entry k of line j is: lines are columns or rows of a row-major 3x3 matrix. */
const column = (j: number, k: number) => k * 3 + j;
const row = (j: number, k: number) => j * 3 + k;

/** Rotates lines p and q of m (columns or rows, by `at`) by the Givens rotation (c, s). */
function rotate(m: Mat3, p: number, q: number, c: number, s: number, at: typeof column): void {
  for (let k = 0; k < 3; k++) {
    const mp = m[at(p, k)];
    const mq = m[at(q, k)];
    m[at(p, k)] = c * mp - s * mq;
    m[at(q, k)] = s * mp + c * mq;
  }
}
