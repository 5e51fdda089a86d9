/**
 * A plain float64 JavaScript implementation of the loss of src/engine/losses.ts, for tiny images in tests.
 * Written from the formulas alone (no tfjs, no engine code) so the engines can be held against it: loss
 * values directly, gradients through central differences, which in float64 are accurate to ~1e-9.
 */
import type { EngineSpec, LossTerms, Pooling, RgbImage, VggWeights } from '../../src/engine/types.js';
import {
  biasName,
  CONTENT_LAYER,
  kernelName,
  STYLE_LAYERS,
  toNetworkInput,
  VGG19_LAYERS,
} from '../../src/engine/vgg.js';
import { referenceRegions } from './reference-masks.js';

/** An HWC feature map in float64. */
interface Map64 {
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly data: Float64Array;
}

interface Layer64 {
  readonly kernel: Float64Array; // HWIO
  readonly bias: Float64Array;
  readonly outC: number;
  readonly poolAfter: boolean;
  readonly name: string;
}

/** 3x3, stride 1, zero padding 1, plus bias, then ReLU. */
function convRelu(x: Map64, layer: Layer64): Map64 {
  const { h, w, c } = x;
  const { kernel, bias, outC } = layer;
  const out = new Float64Array(h * w * outC);
  const acc = new Float64Array(outC);
  for (let y = 0; y < h; y++) {
    for (let z = 0; z < w; z++) {
      acc.set(bias);
      for (let i = 0; i < 3; i++) {
        const yy = y + i - 1;
        if (yy < 0 || yy >= h) continue;
        for (let j = 0; j < 3; j++) {
          const zz = z + j - 1;
          if (zz < 0 || zz >= w) continue;
          const inBase = (yy * w + zz) * c;
          const kBase = (i * 3 + j) * c * outC;
          for (let ci = 0; ci < c; ci++) {
            const v = x.data[inBase + ci];
            const k = kBase + ci * outC;
            for (let o = 0; o < outC; o++) acc[o] += v * kernel[k + o];
          }
        }
      }
      const base = (y * w + z) * outC;
      for (let o = 0; o < outC; o++) out[base + o] = Math.max(acc[o], 0);
    }
  }
  return { h, w, c: outC, data: out };
}

/** 2x2, stride 2, no padding: odd sizes drop the last row/column. */
function pool(x: Map64, pooling: Pooling): Map64 {
  const h = Math.floor(x.h / 2);
  const w = Math.floor(x.w / 2);
  const out = new Float64Array(h * w * x.c);
  const at = (y: number, z: number, ci: number) => x.data[(y * x.w + z) * x.c + ci];
  for (let y = 0; y < h; y++) {
    for (let z = 0; z < w; z++) {
      for (let ci = 0; ci < x.c; ci++) {
        const v = [
          at(2 * y, 2 * z, ci),
          at(2 * y, 2 * z + 1, ci),
          at(2 * y + 1, 2 * z, ci),
          at(2 * y + 1, 2 * z + 1, ci),
        ];
        out[(y * w + z) * x.c + ci] = pooling === 'avg' ? (v[0] + v[1] + v[2] + v[3]) / 4 : Math.max(...v);
      }
    }
  }
  return { h, w, c: x.c, data: out };
}

/** G[a][b] = sum over positions of F[m][a] * F[m][b], row-major N x N. */
function gram(f: Map64): Float64Array {
  const n = f.c;
  const g = new Float64Array(n * n);
  for (let m = 0; m < f.h * f.w; m++) {
    const row = m * n;
    for (let a = 0; a < n; a++) {
      const fa = f.data[row + a];
      if (fa === 0) continue;
      for (let b = 0; b < n; b++) g[a * n + b] += fa * f.data[row + b];
    }
  }
  return g;
}

function layers64(weights: VggWeights): Layer64[] {
  return VGG19_LAYERS.map((l) => {
    const kernel = weights.get(kernelName(l.name));
    const bias = weights.get(biasName(l.name));
    if (!kernel || !bias) throw new Error(`missing weights for ${l.name}`);
    return {
      kernel: Float64Array.from(kernel.data),
      bias: Float64Array.from(bias.data),
      outC: l.outChannels,
      poolAfter: l.poolAfter,
      name: l.name,
    };
  });
}

function features(layers: Layer64[], x: Map64, pooling: Pooling): { style: Map64[]; content: Map64 } {
  const style: Map64[] = [];
  let content: Map64 | undefined;
  let h = x;
  for (const layer of layers) {
    h = convRelu(h, layer);
    if ((STYLE_LAYERS as readonly string[]).includes(layer.name)) style.push(h);
    if (layer.name === CONTENT_LAYER) content = h;
    if (layer.poolAfter) h = pool(h, pooling);
  }
  if (!content) throw new Error('no content layer');
  return { style, content };
}

const imageMap = (image: RgbImage): Map64 => ({
  h: image.height,
  w: image.width,
  c: 3,
  data: Float64Array.from(toNetworkInput(image)),
});

/**
 * Returns the loss of losses.ts for `spec` as a function of x (HWC, network space), in float64.
 * Terms are the weighted contributions, like the engines report them.
 */
export function createReferenceLoss(spec: EngineSpec): (x: ArrayLike<number>) => LossTerms {
  const { width, height, pooling, loss } = spec;
  const layers = layers64(spec.weights);
  const target = features(layers, imageMap(spec.content), pooling).content.data;
  const regions = referenceRegions(spec);
  const styleGrams = spec.styles.map((s) => features(layers, imageMap(s.image), pooling).style);

  // A_{r,l} = sum_{s in r} b_s (E_{r,l} / M_{s,l}) G_{s,l}.
  const targets = regions.map((region) =>
    STYLE_LAYERS.map((_, l) => {
      const n = styleGrams[region.styles[0]][l].c;
      const a = new Float64Array(n * n);
      region.styles.forEach((s, k) => {
        const f = styleGrams[s][l];
        const g = gram(f);
        const scale = (region.blend[k] * region.effective[l]) / (f.h * f.w);
        for (let i = 0; i < g.length; i++) a[i] += scale * g[i];
      });
      return a;
    }),
  );

  return (x) => {
    const f = features(layers, { h: height, w: width, c: 3, data: Float64Array.from(x) }, pooling);
    let content = 0;
    for (let i = 0; i < target.length; i++) content += (f.content.data[i] - target[i]) ** 2;
    content *= 0.5;

    let style = 0;
    regions.forEach((region, r) => {
      f.style.forEach((fl, l) => {
        const mask = region.masks[l];
        const weighted = mask ? { ...fl, data: fl.data.map((v, i) => v * mask[Math.floor(i / fl.c)]) } : fl;
        const g = gram(weighted);
        const n = fl.c;
        const m = fl.h * fl.w;
        const e = region.effective[l];
        if (e === 0) return;
        let sq = 0;
        for (let i = 0; i < g.length; i++) sq += (g[i] - targets[r][l][i]) ** 2;
        style += (loss.styleLayers[l] / (4 * n * n * m * e)) * sq;
      });
    });

    let tv = 0;
    const at = (y: number, z: number, c: number) => x[(y * width + z) * 3 + c];
    for (let y = 0; y < height; y++) {
      for (let z = 0; z < width; z++) {
        for (let c = 0; c < 3; c++) {
          if (y + 1 < height) tv += (at(y + 1, z, c) - at(y, z, c)) ** 2;
          if (z + 1 < width) tv += (at(y, z + 1, c) - at(y, z, c)) ** 2;
        }
      }
    }

    const terms = { content: loss.content * content, style: loss.style * style, tv: loss.tv * tv };
    return { ...terms, total: terms.content + terms.style + terms.tv };
  };
}
