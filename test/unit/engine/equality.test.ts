/**
 * The two engines agree: the onnx engine (hand-built analytic gradient, onnxruntime) and the tfjs
 * reference engine (autodiff) on the same weights, images and x.
 *
 * Tolerances: each loss term to 1e-3 relative, and the gradient to 1e-3 in relative L2 norm
 * (|g_onnx - g_tfjs| / |g_tfjs|). Both engines compute in float32 but sum in different orders (MLAS's
 * blocked direct conv vs the tfjs kernels, different Gram and reduction orders): each conv output differs
 * by a few ulp times sqrt(9 * Cin), ~1e-6 relative, compounded over 13 layers forward and 13 back.
 * Measured: gradients agree to <= 2e-5 and content/TV to <= 1e-5, but the style term to only ~2e-4,
 * because it is a small difference of large Grams (sum (G - A)^2) and tfjs's float32 Gram loses digits
 * there: against a float64 reference the tfjs style term is off by ~1e-4 and the onnx one by ~1e-5
 * (40x30, generated weights). 1e-3 leaves a 5x margin over that and still catches any wrong factor,
 * mask or pad (an O(1) error).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOSS_WEIGHTS } from '../../../src/engine/losses.js';
import { createOnnxEngine } from '../../../src/engine/onnx/engine.js';
import { createTfjsEngine } from '../../../src/engine/tfjs/engine.js';
import type { EngineSpec, LossTerms, RgbImage } from '../../../src/engine/types.js';
import { generateVggWeights, toNetworkInput } from '../../../src/engine/vgg.js';
import { NstError } from '../../../src/errors.js';
import { loadWeights } from '../../../src/weights/store.js';
import { noiseSpec, skyGroundMasks } from '../../helpers/engine-spec.js';
import { SHARED_IMAGES, SHARED_WEIGHTS } from '../../helpers/shared.js';

const TERM_TOLERANCE = 1e-3;
const GRAD_TOLERANCE = 1e-3;

const GENERATED = generateVggWeights(3);

/** x: the content image in network space plus a deterministic ripple, so every term is non-zero. */
function startingPoint(content: RgbImage): Float32Array {
  return toNetworkInput(content).map((v, i) => v + 15 * Math.sin(0.37 * i));
}

const relL2 = (a: Float32Array, b: Float32Array) => {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
};

function expectTermsClose(got: LossTerms, want: LossTerms): void {
  for (const key of ['content', 'style', 'tv', 'total'] as const) {
    if (want[key] === 0) expect(got[key], key).toBe(0);
    else expect(Math.abs(got[key] - want[key]) / Math.abs(want[key]), key).toBeLessThan(TERM_TOLERANCE);
  }
}

/** Runs both engines on `spec` at two points and compares them. */
async function expectEnginesEqual(spec: EngineSpec): Promise<void> {
  const [onnx, tfjs] = [await createOnnxEngine(spec), await createTfjsEngine(spec)];
  try {
    const x = startingPoint(spec.content);
    for (const point of [x, x.map((v, i) => v - 30 * Math.cos(0.11 * i))]) {
      const a = await onnx.lossAndGradient(point);
      const b = await tfjs.lossAndGradient(point);
      expectTermsClose(a.terms, b.terms);
      expect(Math.abs(a.loss - b.loss) / b.loss).toBeLessThan(TERM_TOLERANCE);
      expect(relL2(a.grad, b.grad)).toBeLessThan(GRAD_TOLERANCE);
    }
  } finally {
    onnx.dispose();
    tfjs.dispose();
  }
}

describe('onnx and tfjs engines agree (generated weights)', () => {
  it('17x23, average pooling, two blended styles of other sizes, TV on', async () => {
    await expectEnginesEqual(
      noiseSpec(GENERATED, 17, 23, 'avg', 1e-3, [
        { w: 20, h: 16, weight: 1 },
        { w: 23, h: 17, weight: 3 },
      ]),
    );
  });

  it('32x32, max pooling, one same-size style, TV off', async () => {
    await expectEnginesEqual(noiseSpec(GENERATED, 32, 32, 'max', 0, [{ w: 32, h: 32, weight: 1 }]));
  });

  it('40x30, max pooling, two styles, TV on', async () => {
    await expectEnginesEqual(
      noiseSpec(GENERATED, 40, 30, 'max', 1e-2, [
        { w: 36, h: 36, weight: 0.5 },
        { w: 24, h: 41, weight: 0.5 },
      ]),
    );
  });

  it('40x30, average pooling, one larger style, TV off', async () => {
    await expectEnginesEqual(noiseSpec(GENERATED, 40, 30, 'avg', 0, [{ w: 48, h: 40, weight: 1 }]));
  });
});

describe('onnx and tfjs engines agree with style masks (generated weights)', () => {
  it('21x27, average pooling, sky and ground masks (overlapping, uncovered pixels) and an unmasked style, TV on', async () => {
    const [sky, ground] = skyGroundMasks(21, 27);
    await expectEnginesEqual(
      noiseSpec(GENERATED, 21, 27, 'avg', 1e-3, [
        { w: 20, h: 16, weight: 1, mask: sky },
        { w: 23, h: 17, weight: 3, mask: ground },
        { w: 18, h: 18, weight: 1 },
      ]),
    );
  });

  it('32x20, max pooling, two styles blended under one mask, TV off', async () => {
    const [sky, ground] = skyGroundMasks(32, 20);
    await expectEnginesEqual(
      noiseSpec(GENERATED, 32, 20, 'max', 0, [
        { w: 32, h: 20, weight: 1, mask: ground },
        { w: 24, h: 30, weight: 2, mask: sky },
        { w: 20, h: 20, weight: 1, mask: ground },
      ]),
    );
  });
});

describe('a mask of ones is no mask', () => {
  const engines = { onnx: createOnnxEngine, tfjs: createTfjsEngine };
  for (const [kind, create] of Object.entries(engines)) {
    it(`${kind}: the same loss terms and gradient for one style with and without an all-ones mask`, async () => {
      const plain = noiseSpec(GENERATED, 19, 22, 'avg', 1e-3, [{ w: 20, h: 18, weight: 1 }]);
      const ones = { width: 19, height: 22, data: new Float32Array(19 * 22).fill(1) };
      const masked = { ...plain, styles: [{ ...plain.styles[0], mask: ones }] };
      const [a, b] = [await create(plain), await create(masked)];
      try {
        const x = startingPoint(plain.content);
        const without = await a.lossAndGradient(x);
        const grad = without.grad.slice();
        const withOnes = await b.lossAndGradient(x);
        // Only float32 rounding differs (the masked graph multiplies by 1 and factors 4c differently).
        for (const key of ['content', 'style', 'tv', 'total'] as const) {
          expect(Math.abs(withOnes.terms[key] - without.terms[key]) / without.terms[key], key).toBeLessThan(
            1e-6,
          );
        }
        expect(relL2(withOnes.grad, grad)).toBeLessThan(1e-6);
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }
});

describe('onnx and tfjs engines reject misuse alike', () => {
  const engines = { onnx: createOnnxEngine, tfjs: createTfjsEngine };
  for (const [kind, create] of Object.entries(engines)) {
    it(`${kind}: INVALID_OPTION for a bad spec, INTERNAL for a wrong-sized x and for use after dispose`, async () => {
      const spec = noiseSpec(GENERATED, 16, 16, 'avg', 1e-3, [{ w: 16, h: 16, weight: 1 }]);
      const rejected = (p: Promise<unknown>) =>
        p.then(
          () => undefined,
          (e: unknown) => e,
        );
      const mask = (width: number, value: number) => ({
        width,
        height: 16,
        data: new Float32Array(width * 16).fill(value),
      });
      for (const bad of [
        { ...spec, width: 17 },
        { ...spec, styles: [] },
        { ...spec, styles: [{ ...spec.styles[0], mask: mask(17, 1) }] },
        { ...spec, styles: [{ ...spec.styles[0], mask: mask(16, 1.5) }] },
        { ...spec, styles: [{ ...spec.styles[0], mask: mask(16, 0.5), weight: 0 }, spec.styles[0]] },
      ]) {
        const error = await rejected(create(bad));
        expect(error).toBeInstanceOf(NstError);
        expect(error).toMatchObject({ code: 'INVALID_OPTION', kind: 'input' });
      }
      const engine = await create(spec);
      const wrongSize = await rejected(engine.lossAndGradient(new Float32Array(16 * 16 * 3 - 3)));
      expect(wrongSize).toBeInstanceOf(NstError);
      expect(wrongSize).toMatchObject({
        code: 'INTERNAL',
        message: 'x has 765 values, expected 768 (16x16x3)',
      });
      engine.dispose();
      const disposed = await rejected(engine.lossAndGradient(startingPoint(spec.content)));
      expect(disposed).toBeInstanceOf(NstError);
      expect(disposed).toMatchObject({
        code: 'INTERNAL',
        message: `lossAndGradient called on a disposed ${kind} engine`,
      });
    });
  }
});

const REAL_WEIGHTS = SHARED_WEIGHTS;
const IMAGES = SHARED_IMAGES;
const haveReal = existsSync(path.join(REAL_WEIGHTS, 'weights.json')) && existsSync(IMAGES);

/** An image file as RGB floats, its longest side resized to `side` px. */
async function loadImage(file: string, side: number): Promise<RgbImage> {
  const { data, info } = await sharp(file)
    .rotate()
    .resize(side, side, { fit: 'inside' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: Float32Array.from(data) };
}

describe.skipIf(!haveReal)(
  `onnx and tfjs engines agree on real VGG-19 weights (needs ${REAL_WEIGHTS})`,
  () => {
    for (const pooling of ['avg', 'max'] as const) {
      it(`tubingen in the style of starry night at 64 px, ${pooling} pooling`, async () => {
        const weights = await loadWeights(REAL_WEIGHTS);
        const content = await loadImage(path.join(IMAGES, 'content/tubingen.jpg'), 64);
        const style = await loadImage(path.join(IMAGES, 'style/starry_night.jpg'), 64);
        await expectEnginesEqual({
          weights,
          width: content.width,
          height: content.height,
          pooling,
          loss: DEFAULT_LOSS_WEIGHTS,
          content,
          styles: [{ image: style, weight: 1 }],
          threads: 2,
        });
      });
    }
  },
);
