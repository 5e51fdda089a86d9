/**
 * Real behaviour with the real VGG-19 weights (../shared/models/vgg19, present in development and CI):
 * tubingen.jpg stylised with starry_night.jpg at 128 px. The style loss must fall at least 100x while the
 * photo stays recognisable.
 *
 * "Recognisable" is measured as the Pearson correlation of the low-pass luminance of the result and of
 * the content photo: style transfer repaints texture and colour but keeps the scene's layout (where the
 * sky, buildings and river are), which is exactly what survives a blur of the luminance. The painting
 * itself, resized to the same frame, is the baseline of an unrelated image.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS } from '../../src/engine/options.js';
import { stylize } from '../../src/engine/stylize.js';
import type { RgbImage } from '../../src/engine/types.js';
import { loadWeights } from '../../src/engine/weights.js';
import { decodeImage } from '../../src/image/decode.js';
import { fitLongestSide, resizeImage } from '../../src/image/resize.js';

const SHARED = path.resolve(import.meta.dirname, '../../../shared');
const WEIGHTS = path.join(SHARED, 'models/vgg19');
const present = existsSync(path.join(WEIGHTS, 'weights.json'));
if (!present) console.log(`real-weights tests skipped: no weights at ${WEIGHTS} (see DESIGN.md)`);

/** Luminance box-blurred over a (2r+1)^2 window. */
function blurredLuminance(image: RgbImage, r: number): Float64Array {
  const { width, height, data } = image;
  const y = Float64Array.from({ length: width * height }, (_, i) => 0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2]);
  const out = new Float64Array(width * height);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      let sum = 0;
      let n = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const yy = row + dy;
          const xx = col + dx;
          if (yy >= 0 && yy < height && xx >= 0 && xx < width) {
            sum += y[yy * width + xx];
            n++;
          }
        }
      }
      out[row * width + col] = sum / n;
    }
  }
  return out;
}

function correlation(a: Float64Array, b: Float64Array): number {
  const mean = (v: Float64Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe.skipIf(!present)('with the real VGG-19 weights', () => {
  it('stylises tubingen with starry_night at 128 px: style loss down 100x, the photo still recognisable', async () => {
    const weights = await loadWeights(WEIGHTS);
    const photo = (await decodeImage(path.join(SHARED, 'images/content/tubingen.jpg'))).image;
    const painting = (await decodeImage(path.join(SHARED, 'images/style/starry_night.jpg'))).image;
    const size = fitLongestSide(photo.width, photo.height, 128);
    const content = await resizeImage(photo, size.width, size.height);
    const result = await stylize(
      { content, styles: [{ image: painting, weight: 1 }] },
      { ...DEFAULT_STYLIZE_OPTIONS, size: 128, minSize: 64, iterations: 100 },
      { weights },
    );
    const styleDrop = result.initial.style / result.final.style;
    const paintingInFrame = await resizeImage(painting, size.width, size.height);
    const kept = correlation(blurredLuminance(result.image, 3), blurredLuminance(content, 3));
    const baseline = correlation(blurredLuminance(paintingInFrame, 3), blurredLuminance(content, 3));
    console.log(
      `real weights, ${result.backend}: style loss ${styleDrop.toFixed(0)}x lower, ` +
        `layout correlation ${kept.toFixed(3)} (painting baseline ${baseline.toFixed(3)}), ${result.seconds.toFixed(1)} s`,
    );
    expect(styleDrop).toBeGreaterThan(100);
    expect(kept).toBeGreaterThan(0.7);
    expect(kept).toBeGreaterThan(baseline + 0.4);
  });
});
