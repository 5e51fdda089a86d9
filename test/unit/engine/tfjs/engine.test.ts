import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOSS_WEIGHTS } from '../../../../src/engine/losses.js';
import { loadTf, type Tf } from '../../../../src/engine/tfjs/backend.js';
import { createTfjsEngine } from '../../../../src/engine/tfjs/engine.js';
import type {
  EngineSpec,
  LossAndGradient,
  LossWeights,
  Pooling,
  RgbImage,
  StyleEngine,
  StyleImage,
} from '../../../../src/engine/types.js';
import { generateVggWeights, seededRandom, toNetworkInput } from '../../../../src/engine/vgg.js';
import { loadWeights } from '../../../../src/weights/store.js';
import { skyGroundMasks } from '../../../helpers/engine-spec.js';
import { createReferenceLoss } from '../../../helpers/reference-loss.js';
import { SHARED_IMAGES, SHARED_WEIGHTS } from '../../../helpers/shared.js';

// 22x18 makes the 'valid' 2x2 poolings floor odd sizes: widths 22 -> 11 -> 5 -> 2 -> 1, heights 18 -> 9 -> 4 -> 2 -> 1.
const W = 22;
const H = 18;
const weights = generateVggWeights(7);
const rand = seededRandom(11);

const noiseImage = (width: number, height: number): RgbImage => ({
  width,
  height,
  data: Float32Array.from({ length: width * height * 3 }, () => rand() * 255),
});
const content = noiseImage(W, H);
/** Two styles of different sizes (so each Gram is rescaled to x's size) blended 0.7 / 0.3. */
const twoStyles: StyleImage[] = [
  { image: noiseImage(W, H), weight: 0.7 },
  { image: noiseImage(26, 20), weight: 0.3 },
];
/** x: a random image in network space. */
const x0 = toNetworkInput(noiseImage(W, H));

const UNIT: LossWeights = { content: 1, style: 1, tv: 1, styleLayers: [1, 0.8, 0.5, 0.3, 0.1] };

function specOf(pooling: Pooling, loss: Partial<LossWeights> = {}, styles = twoStyles): EngineSpec {
  return { weights, width: W, height: H, pooling, loss: { ...UNIT, ...loss }, content, styles };
}

/** Engines made in a test, disposed after it: each holds ~100 MB of weights and flipped kernels. */
const engines: StyleEngine[] = [];
async function engineOf(spec: EngineSpec): Promise<StyleEngine> {
  const engine = await createTfjsEngine(spec);
  engines.push(engine);
  return engine;
}

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await loadTf());
});
afterEach(() => {
  for (const e of engines.splice(0)) e.dispose();
});

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-30);

function normalDirection(n: number): Float64Array {
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return d;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const norm = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));

/*
 * Gradient check, method: along a few directions d (each term's gradient, then a random normal one) the
 * engine's directional derivative grad . d (float32 gradient, float64 dot product) against a central
 * difference of the float64 reference loss, (L(x + h d) - L(x - h d)) / 2h. The reference being float64,
 * the difference is not swamped by rounding (as differences of the engine's own float32 loss would be),
 * so h can be tiny: h = 1e-4 on pixel values of order 100. That keeps ReLU and max-pool kinks out of
 * [x - hd, x + hd] in practice (at h = 1e-3 a kink crossing showed up as a 6e-4 error in about one case
 * in ten), so x need not be pushed away from them.
 * The error is taken relative to max(|numeric|, |grad|): for a normal d, grad . d has scale |grad| but
 * can cancel to far below it by chance, and then the float32 gradient's own rounding (~1e-6 of |grad|)
 * would read as a large relative error.
 * Each term is checked on its own (an engine with only that weight non-zero), so a small term cannot
 * hide behind a large one.
 */
describe.each(['avg', 'max'] as const)('tfjs engine vs float64 reference, %s pooling', (pooling) => {
  const reference = createReferenceLoss(specOf(pooling));
  const terms = ['content', 'style', 'tv'] as const;
  /** Each term on its own (value and gradient), from an engine with only that weight non-zero. */
  const single = new Map<(typeof terms)[number], LossAndGradient>();
  const gradOf = (term: (typeof terms)[number]) => single.get(term)?.grad ?? new Float32Array(0);

  beforeAll(async () => {
    for (const term of terms) {
      const engine = await createTfjsEngine(specOf(pooling, { content: 0, style: 0, tv: 0, [term]: 1 }));
      const result = await engine.lossAndGradient(x0);
      single.set(term, { ...result, grad: Float32Array.from(result.grad) });
      engine.dispose();
    }
  });

  it('each loss term equals the reference', () => {
    const want = reference(x0);
    for (const term of terms) {
      const got = single.get(term);
      expect(relErr(got?.terms[term] ?? Number.NaN, want[term]), term).toBeLessThan(1e-4);
      expect(got?.loss).toBe(got?.terms[term]); // the other two are weighted 0
    }
    expect(want.content).toBeGreaterThan(0);
    expect(want.style).toBeGreaterThan(0);
  });

  it('the gradient of each term matches central differences along the gradient and random directions', () => {
    const h = 1e-4;
    // All directions scaled like a normal one (|d| = sqrt(n)), so h means the same step for each.
    const alongGradient = terms.map((term) => {
      const g = gradOf(term);
      return Float64Array.from(g, (v) => (v * Math.sqrt(g.length)) / norm(g));
    });
    const directions = [...alongGradient, normalDirection(x0.length)];
    let worst = 0;
    for (const [k, d] of directions.entries()) {
      // Float64Array: x0.map would round x +- h d back to float32.
      const plus = reference(Float64Array.from(x0, (v, i) => v + h * d[i]));
      const minus = reference(Float64Array.from(x0, (v, i) => v - h * d[i]));
      for (const term of terms) {
        const grad = gradOf(term);
        const numeric = (plus[term] - minus[term]) / (2 * h);
        const error = Math.abs(dot(grad, d) - numeric) / Math.max(Math.abs(numeric), norm(grad));
        expect(error, `${term}, direction ${k}`).toBeLessThan(1e-3);
        worst = Math.max(worst, error);
      }
    }
    console.log(
      `[tfjs engine, ${pooling} pooling] worst directional-derivative error ${worst.toExponential(1)}`,
    );
  });

  it('alpha, beta and the TV weight scale the terms and the gradient', async () => {
    const weighted = { content: 2, style: 3e4, tv: 0.5 };
    const engine = await engineOf(specOf(pooling, weighted));
    const got = await engine.lossAndGradient(x0);
    const unit = reference(x0);
    for (const term of terms)
      expect(relErr(got.terms[term], weighted[term] * unit[term]), term).toBeLessThan(1e-4);
    const [c, s, t] = terms.map(gradOf);
    const expected = c.map((v, i) => 2 * v + 3e4 * s[i] + 0.5 * t[i]);
    for (let k = 0; k < 3; k++) {
      const d = normalDirection(x0.length);
      expect(relErr(dot(got.grad, d), dot(expected, d))).toBeLessThan(1e-5);
    }
  });
});

describe('tfjs engine loss values', () => {
  it('TV of a linear ramp, and its gradient, by hand', async () => {
    // x[h, w, c] = a h + b w + c: every vertical difference is a, every horizontal one b.
    const [a, b, tvWeight] = [3, -2, 0.25];
    const x = Float32Array.from(
      { length: W * H * 3 },
      (_, i) => a * Math.floor(i / (3 * W)) + b * (Math.floor(i / 3) % W) + (i % 3),
    );
    const engine = await engineOf(specOf('avg', { content: 0, style: 0, tv: tvWeight }));
    const { terms, grad } = await engine.lossAndGradient(x);
    const expectedTv = tvWeight * 3 * (a * a * (H - 1) * W + b * b * H * (W - 1));
    expect(terms.tv).toBeCloseTo(expectedTv, 3);
    expect(terms.content).toBe(0);
    expect(terms.style).toBe(0);
    // d/dx: 2a at the bottom row, -2a at the top, 2b at the right column, -2b at the left, 0 inside.
    for (let y = 0; y < H; y++) {
      for (let z = 0; z < W; z++) {
        const want =
          tvWeight *
          (2 * a * (Number(y === H - 1) - Number(y === 0)) + 2 * b * (Number(z === W - 1) - Number(z === 0)));
        for (let c = 0; c < 3; c++) expect(grad[(y * W + z) * 3 + c]).toBeCloseTo(want, 4);
      }
    }
  });

  it('the content term is 0 at x = content, the style term ~0 at x = style (one style, same size)', async () => {
    const style = noiseImage(W, H);
    const engine = await engineOf(specOf('max', { tv: 0 }, [{ image: style, weight: 1 }]));
    const atContent = await engine.lossAndGradient(toNetworkInput(content));
    expect(atContent.terms.content).toBe(0);
    expect(atContent.terms.style).toBeGreaterThan(0);
    const atStyle = await engine.lossAndGradient(toNetworkInput(style));
    expect(atStyle.terms.style).toBeLessThan(1e-9 * atContent.terms.style);
    expect(atStyle.terms.content).toBeGreaterThan(0);
  });

  it('per-layer style weights enter linearly: w = 2 e1 + 3 e5 gives 2 S1 + 3 S5', async () => {
    const styleOnly = (styleLayers: number[]) => specOf('avg', { content: 0, tv: 0, styleLayers });
    const s1 = (await (await engineOf(styleOnly([1, 0, 0, 0, 0]))).lossAndGradient(x0)).terms.style;
    const s5 = (await (await engineOf(styleOnly([0, 0, 0, 0, 1]))).lossAndGradient(x0)).terms.style;
    const both = (await (await engineOf(styleOnly([2, 0, 0, 0, 3]))).lossAndGradient(x0)).terms.style;
    expect(s1).toBeGreaterThan(0);
    expect(s5).toBeGreaterThan(0);
    expect(relErr(both, 2 * s1 + 3 * s5)).toBeLessThan(1e-5);
  });

  it('blend weights are normalised: blending an image with itself 3:7 equals the image alone', async () => {
    const style = twoStyles[1].image;
    const styleTerm = async (styles: StyleImage[]) =>
      (await (await engineOf(specOf('avg', { content: 0, tv: 0 }, styles))).lossAndGradient(x0)).terms.style;
    const single = await styleTerm([{ image: style, weight: 1 }]);
    const blended = await styleTerm([
      { image: style, weight: 3 },
      { image: style, weight: 7 },
    ]);
    // Unnormalised weights would make A_l 10x larger and the term about 100x.
    expect(relErr(blended, single)).toBeLessThan(1e-5);
  });

  it('rejects a bad spec with INVALID_OPTION, like every engine', async () => {
    const code = { code: 'INVALID_OPTION' };
    await expect(createTfjsEngine({ ...specOf('avg'), width: W + 1 })).rejects.toMatchObject(code);
    await expect(
      createTfjsEngine({ ...specOf('avg'), width: 12, height: 12, content: noiseImage(12, 12) }),
    ).rejects.toThrow(/at least 16 px/);
    await expect(
      createTfjsEngine(specOf('avg', {}, [{ image: noiseImage(8, 40), weight: 1 }])),
    ).rejects.toMatchObject(code);
    await expect(createTfjsEngine(specOf('avg', { styleLayers: [1, 1] }))).rejects.toMatchObject(code);
    await expect(createTfjsEngine(specOf('avg', {}, [{ image: content, weight: 0 }]))).rejects.toMatchObject(
      code,
    );
  });
});

describe('tfjs engine resources', () => {
  it('holds tensor count and bytes flat over calls (and a wrong-sized x) and frees everything on dispose', async () => {
    const before = tf.memory();
    const engine = await createTfjsEngine(specOf('max'));
    expect(engine.kind).toBe('tfjs');
    expect(engine.backend).toMatch(/^tfjs-(wasm|node)$/);
    expect([engine.width, engine.height]).toEqual([W, H]);
    await engine.lossAndGradient(x0);
    const held = tf.memory();
    expect(held.numTensors).toBeGreaterThan(before.numTensors);
    for (let i = 0; i < 10; i++) await engine.lossAndGradient(x0);
    await expect(engine.lossAndGradient(new Float32Array(W * H * 3 - 3))).rejects.toMatchObject({
      code: 'INTERNAL',
    });
    expect(tf.memory().numTensors).toBe(held.numTensors);
    expect(tf.memory().numBytes).toBe(held.numBytes);
    engine.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    await expect(engine.lossAndGradient(x0)).rejects.toThrow(/disposed/);
  });

  it('prints one lossAndGradient at 128x128 with generated weights (timing, not asserted)', async () => {
    const size = 128;
    const engine = await engineOf({
      weights,
      width: size,
      height: size,
      pooling: 'avg',
      loss: DEFAULT_LOSS_WEIGHTS,
      content: noiseImage(size, size),
      styles: [{ image: noiseImage(size, size), weight: 1 }],
    });
    const x = toNetworkInput(noiseImage(size, size));
    await engine.lossAndGradient(x); // warm-up: XNNPACK packs each kernel on first use
    const t0 = performance.now();
    const result = await engine.lossAndGradient(x);
    console.log(
      `[tfjs engine ${engine.backend} ${size}x${size}] lossAndGradient ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(Number.isFinite(result.loss)).toBe(true);
    expect(result.grad.every(Number.isFinite)).toBe(true);
  });
});

const REAL_WEIGHTS = SHARED_WEIGHTS;
const IMAGES = SHARED_IMAGES;
const haveRealWeights = existsSync(path.join(REAL_WEIGHTS, 'weights.json'));
if (!haveRealWeights)
  console.log(`[tfjs engine] skipping the real-weights test: no VGG-19 weights at ${REAL_WEIGHTS}`);

describe('tfjs engine with the real VGG-19 weights', () => {
  it.skipIf(!haveRealWeights)('a 64x64 crop gives a finite loss and gradient', async () => {
    const crop = async (file: string): Promise<RgbImage> => {
      const { data, info } = await sharp(file)
        .resize(64, 64, { fit: 'cover' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, data: Float32Array.from(data) };
    };
    const photo = await crop(path.join(IMAGES, 'content', 'tubingen.jpg'));
    const painting = await crop(path.join(IMAGES, 'style', 'starry_night.jpg'));
    const engine = await engineOf({
      weights: await loadWeights(REAL_WEIGHTS),
      width: 64,
      height: 64,
      pooling: 'avg',
      loss: DEFAULT_LOSS_WEIGHTS,
      content: photo,
      styles: [{ image: painting, weight: 1 }],
    });
    const { loss, grad, terms } = await engine.lossAndGradient(toNetworkInput(photo));
    expect(Number.isFinite(loss)).toBe(true);
    expect(terms.content).toBe(0);
    expect(terms.style).toBeGreaterThan(0);
    expect(terms.tv).toBeGreaterThan(0);
    expect(grad.every(Number.isFinite)).toBe(true);
    expect(grad.some((g) => g !== 0)).toBe(true);
  });
});

describe('tfjs engine with style masks vs float64 reference', () => {
  it('the masked style term and its gradient match the reference (central differences), and dispose frees the masks', async () => {
    const before = tf.memory();
    const [sky, ground] = skyGroundMasks(W, H);
    const styles: StyleImage[] = [
      { image: twoStyles[0].image, weight: 1, mask: sky },
      { image: twoStyles[1].image, weight: 1, mask: ground },
      { image: noiseImage(20, 16), weight: 1 },
    ];
    const spec = specOf('avg', { content: 0, tv: 0 }, styles);
    const reference = createReferenceLoss(spec);
    const engine = await createTfjsEngine(spec);
    const { terms, grad } = await engine.lossAndGradient(x0);
    engine.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(relErr(terms.style, reference(x0).style)).toBeLessThan(1e-4);
    const h = 1e-4;
    const alongGradient = Float64Array.from(grad, (v) => (v * Math.sqrt(grad.length)) / norm(grad));
    for (const [k, d] of [alongGradient, normalDirection(x0.length)].entries()) {
      const plus = reference(Float64Array.from(x0, (v, i) => v + h * d[i])).style;
      const minus = reference(Float64Array.from(x0, (v, i) => v - h * d[i])).style;
      const numeric = (plus - minus) / (2 * h);
      const error = Math.abs(dot(grad, d) - numeric) / Math.max(Math.abs(numeric), norm(grad));
      expect(error, `direction ${k}`).toBeLessThan(1e-3);
    }
  });
});
