/**
 * The onnx engine against an independent float64 reference of losses.ts, on tiny images with
 * generated weights.
 *
 * The reference runs VGG-19 in forward mode with tangents (a JVP): one pass gives the loss and its exact
 * directional derivatives dL(x)[d], with no finite-difference step, so ReLU kinks and max-pool switches
 * cannot blur the check. The engine's float32 gradient must match along random directions, along
 * directions that live only on the last row and column (the pixels an odd-sized pooling drops), and along
 * the gradient itself.
 *
 * Tolerances (float32 engine vs float64 truth): each loss term to 1e-4 relative; each directional
 * derivative to 1e-3 relative. A float32 conv accumulates up to 9 * 512 products, a relative error of a
 * few 1e-6 per layer, compounded over 13 layers and the Gram sums to ~1e-5; 1e-4 and 1e-3 leave a
 * 10x margin while a wrong factor, a missing mask or a misplaced pad shows up as an O(1) error.
 */
import { describe, expect, it } from 'vitest';
import { createOnnxEngine } from '../../../../src/engine/onnx/engine.js';
import type { EngineSpec, Pooling, VggWeights } from '../../../../src/engine/types.js';
import {
  biasName,
  CONTENT_LAYER,
  type ConvLayer,
  generateVggWeights,
  kernelName,
  STYLE_LAYERS,
  seededRandom,
  toNetworkInput,
  VGG19_LAYERS,
} from '../../../../src/engine/vgg.js';
import { isNstError } from '../../../../src/errors.js';
import { noiseImage, noiseSpec, skyGroundMasks as skyGround } from '../../../helpers/engine-spec.js';
import { referenceRegions } from '../../../helpers/reference-masks.js';

const WEIGHTS = generateVggWeights(7);

// ---------------------------------------------------------------------------------------------------------
// Float64 reference with forward-mode tangents. Activations are HWC (channels fastest), so the inner loops
// run over output channels, contiguous in both the activation and the Keras HWIO kernel.

interface Dual {
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly v: Float64Array;
  /** One tangent per direction. */
  readonly t: Float64Array[];
}

function conv3x3(input: Float64Array, cin: number, h: number, w: number, hwio: Float32Array, cout: number) {
  const out = new Float64Array(h * w * cout);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * cout;
      for (let tap = 0; tap < 9; tap++) {
        const sy = y + Math.floor(tap / 3) - 1;
        const sx = x + (tap % 3) - 1;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
        const src = (sy * w + sx) * cin;
        for (let ci = 0; ci < cin; ci++) {
          const v = input[src + ci];
          if (v === 0) continue;
          const k = (tap * cin + ci) * cout;
          for (let co = 0; co < cout; co++) out[o + co] += v * hwio[k + co];
        }
      }
    }
  }
  return out;
}

function convRelu(a: Dual, weights: VggWeights, layer: ConvLayer): Dual {
  const k = weights.get(kernelName(layer.name))!.data;
  const b = weights.get(biasName(layer.name))!.data;
  const { h, w } = a;
  const cout = layer.outChannels;
  const z = conv3x3(a.v, a.c, h, w, k, cout);
  const t = a.t.map((ti) => conv3x3(ti, a.c, h, w, k, cout));
  for (let i = 0; i < z.length; i++) {
    z[i] += b[i % cout];
    if (z[i] > 0) continue;
    z[i] = 0;
    for (const ti of t) ti[i] = 0;
  }
  return { c: cout, h, w, v: z, t };
}

function pool(a: Dual, mode: Pooling): Dual {
  const h = Math.floor(a.h / 2);
  const w = Math.floor(a.w / 2);
  const { c } = a;
  const v = new Float64Array(h * w * c);
  const t = a.t.map(() => new Float64Array(v.length));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        const cell = [0, 1, a.w, a.w + 1].map((d) => (2 * y * a.w + 2 * x + d) * c + ch);
        const o = (y * w + x) * c + ch;
        if (mode === 'avg') {
          v[o] = cell.reduce((s, i) => s + a.v[i], 0) / 4;
          a.t.forEach((ti, j) => {
            t[j][o] = cell.reduce((s, i) => s + ti[i], 0) / 4;
          });
        } else {
          const arg = cell.reduce((best, i) => (a.v[i] > a.v[best] ? i : best));
          v[o] = a.v[arg];
          a.t.forEach((ti, j) => {
            t[j][o] = ti[arg];
          });
        }
      }
    }
  }
  return { c, h, w, v, t };
}

/** relu1_1..relu5_1 and relu4_2 of an HWC network-space image, with tangents along `directions`. */
function features(
  x: Float32Array,
  width: number,
  height: number,
  pooling: Pooling,
  directions: Float64Array[],
) {
  let a: Dual = { c: 3, h: height, w: width, v: Float64Array.from(x), t: directions };
  const taken = new Map<string, Dual>();
  for (const layer of VGG19_LAYERS) {
    a = convRelu(a, WEIGHTS, layer);
    taken.set(layer.name, a);
    if (layer.poolAfter && layer.name !== 'block5_conv1') a = pool(a, pooling);
  }
  return taken;
}

/** A^T B over positions for HWC features A, B (M positions x N channels): N x N. */
function crossGram(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let p = 0; p < a.length; p += n) {
    for (let i = 0; i < n; i++) {
      const ai = a[p + i];
      if (ai === 0) continue;
      for (let j = 0; j < n; j++) g[i * n + j] += ai * b[p + j];
    }
  }
  return g;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

interface Reference {
  readonly content: number;
  readonly style: number;
  readonly tv: number;
  readonly total: number;
  /** dL/dx . d for each direction. */
  readonly directional: number[];
}

/** The loss of losses.ts in float64, and its derivatives along `directions` (HWC, like x). */
function reference(spec: EngineSpec, x: Float32Array, directions: Float64Array[]): Reference {
  const { width, height, pooling, loss } = spec;
  const targetContent = features(toNetworkInput(spec.content), width, height, pooling, []).get(
    CONTENT_LAYER,
  )!;
  const fx = features(x, width, height, pooling, directions);
  const regions = referenceRegions(spec);
  const targets = regions.map(() => STYLE_LAYERS.map((name) => new Float64Array(fx.get(name)!.c ** 2)));
  const styleFeatures = spec.styles.map(({ image }) =>
    features(toNetworkInput(image), image.width, image.height, pooling, []),
  );
  regions.forEach((region, r) => {
    region.styles.forEach((s, k) => {
      STYLE_LAYERS.forEach((name, l) => {
        const f = styleFeatures[s].get(name)!;
        const scale = (region.blend[k] * region.effective[l]) / (f.h * f.w);
        crossGram(f.v, f.v, f.c).forEach((v, i) => {
          targets[r][l][i] += scale * v;
        });
      });
    });
  });
  const directional = directions.map(() => 0);
  let style = 0;
  regions.forEach((region, r) => {
    STYLE_LAYERS.forEach((name, l) => {
      const f = fx.get(name)!;
      const e = region.effective[l];
      if (e === 0) return;
      const mask = region.masks[l];
      const weigh = (a: Float64Array) => (mask ? a.map((v, i) => v * mask[Math.floor(i / f.c)]) : a);
      const fv = weigh(f.v);
      const c = (loss.style * loss.styleLayers[l]) / (4 * f.c ** 2 * (f.h * f.w) * e);
      // dG = dF'^T F' + F'^T dF' = H + H^T with H = dF'^T F'; (G - A) is symmetric, so sum (G - A) dG = 2 sum (G - A) H.
      const diff = crossGram(fv, fv, f.c).map((v, i) => v - targets[r][l][i]);
      style += c * dot(diff, diff);
      f.t.forEach((t, d) => {
        directional[d] += 4 * c * dot(diff, crossGram(weigh(t), fv, f.c));
      });
    });
  });
  const fc = fx.get(CONTENT_LAYER)!;
  let content = 0;
  fc.v.forEach((v, i) => {
    const diff = v - targetContent.v[i];
    content += (loss.content / 2) * diff * diff;
    fc.t.forEach((t, d) => {
      directional[d] += loss.content * diff * t[i];
    });
  });
  let tv = 0;
  const at = (y: number, xx: number, c: number) => (y * width + xx) * 3 + c;
  for (let y = 0; y < height; y++) {
    for (let xx = 0; xx < width; xx++) {
      for (let c = 0; c < 3; c++) {
        for (const [ny, nx] of [
          [y + 1, xx],
          [y, xx + 1],
        ]) {
          if (ny >= height || nx >= width) continue;
          const diff = x[at(ny, nx, c)] - x[at(y, xx, c)];
          tv += loss.tv * diff * diff;
          directions.forEach((dir, d) => {
            directional[d] += 2 * loss.tv * diff * (dir[at(ny, nx, c)] - dir[at(y, xx, c)]);
          });
        }
      }
    }
  }
  return { content, style, tv, total: content + style + tv, directional };
}

// ---------------------------------------------------------------------------------------------------------

function gaussian(n: number, seed: number, keep: (i: number) => boolean = () => true): Float64Array {
  const rand = seededRandom(seed);
  return Float64Array.from({ length: n }, (_, i) => {
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return keep(i) ? z : 0;
  });
}

/** The spec of these tests: generated weights, noise images from seed 11. */
const spec = (...args: [number, number, Pooling, number, Parameters<typeof noiseSpec>[5]]) =>
  noiseSpec(WEIGHTS, ...args, 11);

const relErr = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe('onnx engine vs a float64 reference (forward-mode derivatives)', () => {
  const cases: { name: string; spec: EngineSpec }[] = [
    {
      name: 'avg pooling, 19x17, two blended styles of other sizes, TV on',
      spec: spec(19, 17, 'avg', 1e-3, [
        { w: 21, h: 16, weight: 0.3 },
        { w: 17, h: 18, weight: 0.7 },
      ]),
    },
    {
      name: 'max pooling, 17x23, two blended styles, TV off',
      spec: spec(17, 23, 'max', 0, [
        { w: 16, h: 20, weight: 2 },
        { w: 23, h: 17, weight: 1 },
      ]),
    },
    {
      name: 'max pooling, 16x16 (even), one style, TV on',
      spec: spec(16, 16, 'max', 1e-2, [{ w: 18, h: 16, weight: 1 }]),
    },
    {
      name: 'avg pooling, 31x18, one style, TV off',
      spec: spec(31, 18, 'avg', 0, [{ w: 16, h: 16, weight: 1 }]),
    },
    {
      name: 'masks: avg pooling, 19x33, sky and ground (overlapping, uncovered pixels) and an unmasked style',
      spec: spec(19, 33, 'avg', 0, [
        { w: 21, h: 16, weight: 1, mask: skyGround(19, 33)[0] },
        { w: 17, h: 18, weight: 1, mask: skyGround(19, 33)[1] },
        { w: 16, h: 16, weight: 2 },
      ]),
    },
    {
      name: 'masks: max pooling, 23x17, two styles blended under one mask and one under another, TV off',
      spec: spec(23, 17, 'max', 0, [
        { w: 16, h: 20, weight: 2, mask: skyGround(23, 17)[0] },
        { w: 23, h: 17, weight: 1, mask: skyGround(23, 17)[1] },
        { w: 18, h: 18, weight: 1, mask: skyGround(23, 17)[0] },
      ]),
    },
  ];

  for (const { name, spec: s } of cases) {
    it(name, async () => {
      const engine = await createOnnxEngine(s);
      try {
        const n = s.width * s.height * 3;
        // x: the content plus noise, so every term is non-trivial.
        const noise = gaussian(n, 5);
        const base = toNetworkInput(s.content);
        const x = Float32Array.from(base, (v, i) => v + 20 * noise[i]);
        const { loss, grad, terms } = await engine.lossAndGradient(x);
        expect(grad.length).toBe(n);
        expect(grad.every(Number.isFinite)).toBe(true);

        const lastRowOrColumn = (i: number) => {
          const p = Math.floor(i / 3);
          return p % s.width === s.width - 1 || Math.floor(p / s.width) === s.height - 1;
        };
        const directions = [gaussian(n, 6), gaussian(n, 7, lastRowOrColumn), Float64Array.from(grad)];
        const ref = reference(s, x, directions);

        expect(relErr(terms.content, ref.content)).toBeLessThan(1e-4);
        expect(relErr(terms.style, ref.style)).toBeLessThan(1e-4);
        if (s.loss.tv === 0) expect(terms.tv).toBe(0);
        else expect(relErr(terms.tv, ref.tv)).toBeLessThan(1e-4);
        expect(relErr(loss, ref.total)).toBeLessThan(1e-4);
        expect(terms.total).toBe(loss);
        directions.forEach((d, i) => {
          expect(relErr(dot(grad, d), ref.directional[i]), `direction ${i}`).toBeLessThan(1e-3);
        });
      } finally {
        engine.dispose();
      }
    });
  }
});

describe('onnx engine loss values at the targets', () => {
  it('has zero content loss at x = content and ~zero style loss at x = the single same-size style', async () => {
    const s = spec(20, 17, 'avg', 0, [{ w: 20, h: 17, weight: 1 }]);
    const atStyle: EngineSpec = { ...s, content: s.styles[0].image };
    const engine = await createOnnxEngine(atStyle);
    try {
      const x = toNetworkInput(s.styles[0].image);
      const at = (await engine.lossAndGradient(x)).terms;
      // Elsewhere both terms are far from zero; at the targets only float32 rounding remains (the features
      // graph and the loss graph may pick different conv kernels).
      const off = (await engine.lossAndGradient(toNetworkInput(s.content))).terms;
      expect(off.content).toBeGreaterThan(0.1);
      expect(off.style).toBeGreaterThan(1);
      expect(at.content).toBeLessThan(1e-6 * off.content);
      expect(at.style).toBeLessThan(1e-6 * off.style);
    } finally {
      engine.dispose();
    }
  });

  it('reuses one gradient buffer across calls and rejects a wrongly sized x', async () => {
    const s = spec(16, 16, 'max', 1e-3, [{ w: 16, h: 16, weight: 1 }]);
    const engine = await createOnnxEngine(s);
    expect(engine.kind).toBe('onnx');
    expect(engine.backend).toMatch(/^onnx-(cpu|cuda)$/);
    try {
      const a = await engine.lossAndGradient(toNetworkInput(s.content));
      const first = Float32Array.from(a.grad);
      const b = await engine.lossAndGradient(toNetworkInput(s.styles[0].image));
      expect(b.grad).toBe(a.grad);
      expect(Array.from(b.grad)).not.toEqual(Array.from(first));
      await expect(engine.lossAndGradient(new Float32Array(10))).rejects.toSatisfy(isNstError);
    } finally {
      engine.dispose();
    }
    await expect(engine.lossAndGradient(toNetworkInput(s.content))).rejects.toThrow(/disposed/);
  });

  it('rejects specs it cannot run with typed input errors', async () => {
    const good = spec(16, 16, 'avg', 0, [{ w: 16, h: 16, weight: 1 }]);
    const bad: [string, EngineSpec][] = [
      ['too small', { ...good, width: 12, content: noiseImage(12, 16, 1) }],
      ['content size mismatch', { ...good, content: noiseImage(17, 16, 1) }],
      ['no styles', { ...good, styles: [] }],
      ['zero blend', { ...good, styles: [{ image: noiseImage(16, 16, 2), weight: 0 }] }],
      ['style layers', { ...good, loss: { ...good.loss, styleLayers: [1, 1] } }],
    ];
    for (const [what, s] of bad) {
      await expect(createOnnxEngine(s), what).rejects.toMatchObject({ name: 'NstError', kind: 'input' });
    }
  });
});
