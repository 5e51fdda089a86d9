/**
 * "Keep original colours" (Gatys et al. 2016, "Preserving Color in Neural Artistic Style Transfer",
 * luminance-only transfer): the result takes its luminance from the stylised image and its
 * chrominance from the content photo, in full-range YCbCr with BT.601 luma weights (the JPEG
 * convention). Pure functions, no I/O.
 */
import type { RgbImage } from '../engine/types.js';

/** BT.601 luma. */
const luma = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;
const clamp255 = (v: number): number => Math.min(255, Math.max(0, v));

/**
 * The styled image's luminance with the content's Cb/Cr, clamped to 0..255. With Cb and Cr held,
 * the YCbCr -> RGB inverse adds a change of Y equally to R, G and B, so converting content to
 * YCbCr, swapping Y and converting back is exactly `content + (Y_styled - Y_content)` per channel.
 */
export function transferLuminance(styled: RgbImage, content: RgbImage): RgbImage {
  if (styled.width !== content.width || styled.height !== content.height) {
    throw new RangeError(
      `transferLuminance needs images of the same size, got ${styled.width}x${styled.height} and ${content.width}x${content.height}`,
    );
  }
  const s = styled.data;
  const c = content.data;
  const out = new Float32Array(c.length);
  for (let i = 0; i < c.length; i += 3) {
    const dy = luma(s[i], s[i + 1], s[i + 2]) - luma(c[i], c[i + 1], c[i + 2]);
    out[i] = clamp255(c[i] + dy);
    out[i + 1] = clamp255(c[i + 1] + dy);
    out[i + 2] = clamp255(c[i + 2] + dy);
  }
  return { width: content.width, height: content.height, data: out };
}

/** The image's luminance in all three channels (to stylise luminance only, then transferLuminance). */
export function luminanceOnly(image: RgbImage): RgbImage {
  const d = image.data;
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i += 3) out[i] = out[i + 1] = out[i + 2] = luma(d[i], d[i + 1], d[i + 2]);
  return { width: image.width, height: image.height, data: out };
}
