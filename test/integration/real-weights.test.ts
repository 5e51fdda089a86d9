/**
 * Real behaviour with the real VGG-19 weights (../shared/models/vgg19, present in development and CI):
 * tubingen.jpg stylised with starry_night.jpg at 128 px. The style loss must fall at least 100x while the
 * photo stays recognisable.
 *
 * "Recognisable" is measured on the scene's mid-scale structure: the luminance band-passed between a
 * 5 px and a 25 px box blur (blur r=2 minus blur r=12, at 128 px), correlated with the same band of the
 * photo. Style transfer repaints the fine texture (removed by the small blur) and shifts the overall light
 * towards the painting's (removed by subtracting the large blur); the outlines of roofs, tower and river
 * bank sit in between and must survive. The result must also be recognised: it must match its own photo
 * clearly better than the other test photos and the painting, resized to the same frame. (Measured: 0.40
 * with tubingen against at most 0.06 for the others.)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS } from '../../src/engine/options.js';
import { stylize } from '../../src/engine/stylize.js';
import type { RgbImage } from '../../src/engine/types.js';
import { decodeImage } from '../../src/image/decode.js';
import { fitLongestSide, resizeImage } from '../../src/image/resize.js';
import { loadWeights } from '../../src/weights/store.js';
import { SHARED } from '../helpers/shared.js';

const WEIGHTS = path.join(SHARED, 'models/vgg19');
const present = existsSync(path.join(WEIGHTS, 'weights.json'));
if (!present)
  console.log(`real-weights tests skipped: no weights at ${WEIGHTS} (see docs/ARCHITECTURE.md, "Tests")`);

/** Luminance box-blurred over a (2r+1)^2 window. */
function blur(y: Float64Array, width: number, height: number, r: number): Float64Array {
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

/** The luminance band between a (2*2+1) and a (2*12+1) px box blur. */
function midScaleStructure(image: RgbImage): Float64Array {
  const { width, height, data } = image;
  const y = Float64Array.from(
    { length: width * height },
    (_, i) => 0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2],
  );
  const fine = blur(y, width, height, 2);
  const coarse = blur(y, width, height, 12);
  return fine.map((v, i) => v - coarse[i]);
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
    const layout = async (image: RgbImage) =>
      midScaleStructure(await resizeImage(image, size.width, size.height));
    const resultLayout = await layout(result.image);
    const kept = correlation(resultLayout, await layout(content));
    const others: Record<string, number> = { painting: correlation(resultLayout, await layout(painting)) };
    for (const name of ['golden_gate.jpg', 'brad_pitt.jpg']) {
      const other = (await decodeImage(path.join(SHARED, 'images/content', name))).image;
      others[name] = correlation(resultLayout, await layout(other));
    }
    console.log(
      `real weights, ${result.backend}: style loss ${styleDrop.toFixed(0)}x lower in ${result.seconds.toFixed(1)} s; ` +
        `layout correlation with tubingen ${kept.toFixed(3)}, with the others ${JSON.stringify(others)}`,
    );
    expect(styleDrop).toBeGreaterThan(100);
    expect(kept).toBeGreaterThan(0.3);
    for (const r of Object.values(others)) expect(kept).toBeGreaterThan(r + 0.2);
  });
});
