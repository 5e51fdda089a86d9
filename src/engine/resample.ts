/**
 * Pure image resampling for the coarse-to-fine schedule: a separable triangle (bilinear) filter whose
 * support widens when shrinking, so downscales are antialiased (like Pillow's BILINEAR). Works on any
 * HWC float data with `channels` interleaved values, so it resizes both RGB images and optimiser iterates.
 * High-quality resizes of the user's original images happen in src/image with sharp before the engine
 * sees them; this only moves between nearby scales, where a tent filter is plenty.
 */
import type { RgbImage } from './types.js';
import { MIN_IMAGE_SIDE } from './vgg.js';

interface Tap {
  readonly start: number;
  readonly weights: Float64Array;
}

/** For each output index, the first input index and normalised weights of the triangle filter. */
function taps(inSize: number, outSize: number): Tap[] {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const result: Tap[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const start = Math.max(0, Math.floor(centre - support));
    const end = Math.min(inSize, Math.ceil(centre + support));
    const weights = new Float64Array(end - start);
    let sum = 0;
    for (let i = start; i < end; i++) {
      const w = Math.max(0, 1 - Math.abs((i + 0.5 - centre) / support));
      weights[i - start] = w;
      sum += w;
    }
    for (let k = 0; k < weights.length; k++) weights[k] /= sum;
    result.push({ start, weights });
  }
  return result;
}

/** Resizes HWC data of `channels` interleaved values from inW x inH to outW x outH. */
export function resampleHwc(
  data: Float32Array,
  inW: number,
  inH: number,
  outW: number,
  outH: number,
  channels = 3,
): Float32Array {
  if (data.length !== inW * inH * channels)
    throw new RangeError(`expected ${inW * inH * channels} values, got ${data.length}`);
  if (inW === outW && inH === outH) return data.slice();
  const xTaps = taps(inW, outW);
  const yTaps = taps(inH, outH);
  // Horizontal pass: inH x outW.
  const mid = new Float32Array(inH * outW * channels);
  for (let y = 0; y < inH; y++) {
    for (let x = 0; x < outW; x++) {
      const { start, weights } = xTaps[x];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < weights.length; k++)
          acc += weights[k] * data[(y * inW + start + k) * channels + c];
        mid[(y * outW + x) * channels + c] = acc;
      }
    }
  }
  // Vertical pass: outH x outW.
  const out = new Float32Array(outH * outW * channels);
  for (let y = 0; y < outH; y++) {
    const { start, weights } = yTaps[y];
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < weights.length; k++)
          acc += weights[k] * mid[((start + k) * outW + x) * channels + c];
        out[(y * outW + x) * channels + c] = acc;
      }
    }
  }
  return out;
}

export function resampleImage(image: RgbImage, width: number, height: number): RgbImage {
  return { width, height, data: resampleHwc(image.data, image.width, image.height, width, height) };
}

/** Size with the longest side set to `longest`, aspect ratio kept, at least 1 px each way. */
export function sizeForLongestSide(
  width: number,
  height: number,
  longest: number,
): { width: number; height: number } {
  const scale = longest / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * A style's size at a scale whose longest side is `longest`: its longest side styleScale x that, its shorter
 * side never under MIN_IMAGE_SIDE. The engine resamples styles to it; the memory model counts it.
 */
export function resampledStyleSize(
  style: { readonly width: number; readonly height: number },
  longest: number,
  styleScale: number,
): { width: number; height: number } {
  const shorter = Math.min(style.width, style.height) / Math.max(style.width, style.height);
  const side = Math.max(Math.round(styleScale * longest), Math.ceil(MIN_IMAGE_SIDE / shorter));
  return sizeForLongestSide(style.width, style.height, side);
}
