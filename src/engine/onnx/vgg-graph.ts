/**
 * The ONNX graphs of the onnx engine, built from the VGG-19 weights:
 *
 * - the loss graph: image x -> total loss, each weighted term and dL/dx. The gradient is analytic,
 *   written out node by node (ONNX inference runtimes have no autodiff): conv backward is a conv with
 *   the flipped, in/out-transposed kernel; ReLU backward a mask; average-pool backward a nearest
 *   x2 upsample of a quarter of the gradient; max-pool backward MaxUnpool with the forward's indices;
 *   the Gram, content and TV gradients are closed forms of the definitions in ../losses.ts (loss-terms.ts).
 * - the features graph: image -> raw style Grams F F^T (relu1_1..relu5_1) and relu4_2 features, any size,
 *   used once per scale to compute the targets.
 *
 * Layouts: x and dL/dx are NHWC [1,H,W,3] (the seam's convention); inside, everything is NCHW. A Gram
 * is taken over F as [N, M] (channels x positions), the transpose of losses.ts's F, so G = F F^T.
 */

import { styleCoefficient } from '../losses.js';
import type { StyleRegion } from '../masks.js';
import { convGrids, type Grid, pooled } from '../shapes.js';
import type { TileLoss } from '../tiling.js';
import type { LossWeights, Pooling } from '../types.js';
import { CONTENT_LAYER, type ConvLayer, STYLE_LAYERS, VGG19_LAYERS } from '../vgg.js';
import { GraphBuilder, type Value } from './graph-builder.js';
import type { Kernels, LayerKernels } from './kernels.js';
import { contentTerm, styleTerm, tvTerm } from './loss-terms.js';

/** Names of the graphs' inputs and outputs (the session feeds and fetches use them). */
export const IO = {
  image: 'x',
  contentTarget: 'content_target',
  gramTarget: (i: number) => `gram_target_${i}`,
  loss: 'loss',
  content: 'content',
  style: 'style',
  tv: 'tv',
  grad: 'grad',
  gram: (i: number) => `gram_${i}`,
  /** The loss graph's G_{r,l} (index r * 5 + l): a tile's contributions to the whole image's Grams. */
  styleGram: (i: number) => `style_gram_${i}`,
  features: 'content_features',
} as const;

const layerIndex = (name: string) => VGG19_LAYERS.findIndex((l) => l.name === name);
const CONTENT_INDEX = layerIndex(CONTENT_LAYER);
const CONV = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } as const;
/** onnx.TensorProto.DataType.FLOAT, for Cast. */
const FLOAT32 = 1;
const POOL = { kernel_shape: [2, 2], strides: [2, 2] } as const;
const NEAREST_X2 = {
  mode: 'nearest',
  coordinate_transformation_mode: 'asymmetric',
  nearest_mode: 'floor',
} as const;

/** What a pooling's backward needs: MaxUnpool takes the forward's argmax indices. */
interface Pool {
  readonly channels: number;
  readonly indices?: Value;
}

/** Forward activations (post-ReLU) per conv layer, and what each pooling's backward needs. */
interface Forward {
  readonly activations: Value[];
  /** The forward conv kernels (OIHW) as graph values, by conv layer. */
  readonly kernels: Value[];
  /** By conv layer index: the pooling after it, if any. */
  readonly pools: ReadonlyMap<number, Pool>;
}

/** VGG-19 through relu5_1 on an NCHW input. */
function forward(g: GraphBuilder, input: Value, kernels: Kernels, pooling: Pooling): Forward {
  const activations: Value[] = [];
  const weights: Value[] = [];
  const pools = new Map<number, Pool>();
  let a = input;
  VGG19_LAYERS.forEach((layer, i) => {
    const { forward: kernel, bias } = kernels.get(layer.name)!;
    const w = g.floats(`${layer.name}_w`, [layer.outChannels, layer.inChannels, 3, 3], kernel);
    const b = g.floats(`${layer.name}_b`, [layer.outChannels], bias);
    a = g.op('Relu', [g.op('Conv', [a, w, b], CONV)]);
    activations.push(a);
    weights.push(w);
    if (!layer.poolAfter || i === VGG19_LAYERS.length - 1) return;
    if (pooling === 'avg') {
      a = g.op('AveragePool', [a], POOL);
      pools.set(i, { channels: layer.outChannels });
    } else {
      const [pooledValue, indices] = g.opN('MaxPool', [a], 2, POOL);
      a = pooledValue;
      pools.set(i, { indices, channels: layer.outChannels });
    }
  });
  return { activations, kernels: weights, pools };
}

/** NHWC image -> NCHW. */
const toNchw = (g: GraphBuilder, x: Value) => g.op('Transpose', [x], { perm: [0, 3, 1, 2] });

/** The features graph: for an image of any size, the raw Grams F F^T at relu1_1..relu5_1 and relu4_2's features. */
export function buildFeaturesModel(kernels: Kernels, pooling: Pooling): Uint8Array {
  const g = new GraphBuilder('vgg19-features');
  const image = g.input(IO.image, [1, 'height', 'width', 3]);
  const { activations } = forward(g, toNchw(g, image), kernels, pooling);
  STYLE_LAYERS.forEach((name, s) => {
    const i = layerIndex(name);
    const n = VGG19_LAYERS[i].outChannels;
    const f = g.op('Reshape', [activations[i], g.int64s([n, -1])]);
    g.output(IO.gram(s), g.op('Gemm', [f, f], { transB: 1 }), [n, n]);
  });
  g.output(IO.features, activations[CONTENT_INDEX], [1, VGG19_LAYERS[CONTENT_INDEX].outChannels, 'fh', 'fw']);
  return g.encode();
}

/** Shapes of the loss graph's target inputs for an image of width x height. */
export function targetShapes(width: number, height: number): { content: number[]; grams: number[][] } {
  const grids = convGrids(width, height);
  const c = grids[CONTENT_INDEX];
  return {
    content: [1, VGG19_LAYERS[CONTENT_INDEX].outChannels, c.height, c.width],
    grams: STYLE_LAYERS.map((name) => {
      const n = VGG19_LAYERS[layerIndex(name)].outChannels;
      return [n, n];
    }),
  };
}

export interface LossGraphSpec {
  readonly kernels: Kernels;
  /** The style regions (masks.ts): one style term per region and style layer. */
  readonly regions: readonly StyleRegion[];
  readonly width: number;
  readonly height: number;
  readonly pooling: Pooling;
  readonly loss: LossWeights;
  /** A tile's share of a larger image's loss (tiling.ts); none: the whole image is x. */
  readonly tile?: Pick<TileLoss, 'positions' | 'contentWeights' | 'pixelWeights' | 'styleShares'>;
}

/**
 * The loss graph. Inputs: x [1,H,W,3] NHWC, content_target (relu4_2 features, NCHW), gram_target_<r * 5 + l>
 * (the blended style Grams A_{r,l} of region r at style layer l; 0..4 with one region). Outputs: loss, content, style, tv (scalars; weighted contributions),
 * grad (dL/dx, NHWC) and style_gram_<r * 5 + l> (G_{r,l}). For a tile, each term is its share of the whole
 * image's: the style terms normalised by the whole image's positions, content and TV weighted per position.
 */
export function buildLossModel(spec: LossGraphSpec): Uint8Array {
  const { kernels, width, height, pooling, loss, regions, tile } = spec;
  const g = new GraphBuilder('vgg19-gatys-loss-and-gradient');
  const x = g.input(IO.image, [1, height, width, 3]);
  const grids = convGrids(width, height);
  const targets = targetShapes(width, height);
  const fwd = forward(g, toNchw(g, x), kernels, pooling);

  // Loss terms and the gradients they inject at the activations where they are taken.
  const injected = new Map<number, Value>();
  const styleTerms: Value[] = [];
  regions.forEach((region, r) => {
    STYLE_LAYERS.forEach((name, s) => {
      const i = layerIndex(name);
      const channels = VGG19_LAYERS[i].outChannels;
      const target = g.input(IO.gramTarget(r * STYLE_LAYERS.length + s), targets.grams[s]);
      const { term, grad, gram } = styleTerm(g, fwd.activations[i], target, {
        channels,
        grid: grids[i],
        coefficient:
          styleCoefficient(
            loss.style * (loss.styleLayers[s] ?? 0),
            channels,
            tile?.positions[s] ?? grids[i].width * grids[i].height,
            region.effective[s],
          ) * (tile ? inverseShare(tile.styleShares[r * STYLE_LAYERS.length + s]) : 1),
        mask: region.masks[s],
      });
      g.output(IO.styleGram(r * STYLE_LAYERS.length + s), gram, targets.grams[s]);
      styleTerms.push(term);
      injected.set(i, addOptional(g, injected.get(i), grad));
    });
  });
  const content = contentTerm(
    g,
    fwd.activations[CONTENT_INDEX],
    g.input(IO.contentTarget, targets.content),
    loss.content,
    tile && { grid: grids[CONTENT_INDEX], values: tile.contentWeights },
  );
  injected.set(CONTENT_INDEX, addOptional(g, injected.get(CONTENT_INDEX), content.grad));

  const style = g.op('Sum', styleTerms);
  const tv = tvTerm(g, x, loss.tv, { width, height }, tile?.pixelWeights);
  const imageGrad = g.op('Transpose', [backward(g, fwd, injected, kernels, grids)], { perm: [0, 2, 3, 1] });

  g.output(IO.content, content.term, []);
  g.output(IO.style, style, []);
  g.output(IO.tv, tv.term, []);
  g.output(IO.loss, g.op('Sum', [content.term, style, tv.term]), []);
  g.output(IO.grad, g.op('Add', [imageGrad, tv.grad]), [1, height, width, 3]);
  return g.encode();
}

/**
 * A tile's style term is weighted by the inverse of its share (tiled-scale.ts): its curvature in its own
 * Gram is then the whole loss's as every tile moves at once. A tile with no share has no style term.
 */
const inverseShare = (share: number | undefined) => (share !== undefined && share > 0 ? 1 / share : 0);

const addOptional = (g: GraphBuilder, a: Value | undefined, b: Value) =>
  a === undefined ? b : g.op('Add', [a, b]);

/** dL/d(input of conv1_1), NCHW, from the loss gradients injected at the activations. */
function backward(
  g: GraphBuilder,
  fwd: Forward,
  injected: ReadonlyMap<number, Value>,
  kernels: Kernels,
  grids: readonly Grid[],
): Value {
  const zero = g.scalar(0);
  let upstream: Value | undefined; // dL/d(activation of layer i), from the layers above it
  for (let i = VGG19_LAYERS.length - 1; i >= 0; i--) {
    const layer = VGG19_LAYERS[i];
    const inject = injected.get(i);
    let grad =
      upstream === undefined ? inject : inject === undefined ? upstream : g.op('Add', [upstream, inject]);
    if (grad === undefined) throw new Error(`no gradient reaches ${layer.name}`);
    // ReLU backward: relu's output is positive exactly where its input is. Cast(a > 0) * g is 3x faster
    // in onnxruntime than Sign(a) * g (Sign is not vectorised) or Where(a > 0, g, 0).
    const mask = g.op('Cast', [g.op('Greater', [fwd.activations[i], zero])], { to: FLOAT32 });
    grad = g.op('Mul', [grad, mask]);
    grad = convInputGradient(g, grad, layer, fwd.kernels[i], kernels.get(layer.name)!);
    const pool = i > 0 ? fwd.pools.get(i - 1) : undefined;
    upstream = pool ? poolBackward(g, grad, pool, grids[i - 1]) : grad;
  }
  if (upstream === undefined) throw new Error('empty network');
  return upstream;
}

/**
 * dL/d(conv input) from dL/d(conv output): a conv with the flipped kernel, input and output channels
 * swapped. For conv1_1 (3 input channels) it is a ConvTranspose with the forward kernel instead: 3x
 * faster in onnxruntime, whose blocked conv pads 3 output channels to 16 while ConvTranspose is one
 * GEMM and a col2im.
 */
function convInputGradient(
  g: GraphBuilder,
  grad: Value,
  layer: ConvLayer,
  forwardKernel: Value,
  kernels: LayerKernels,
): Value {
  if (layer.inChannels < 16) return g.op('ConvTranspose', [grad, forwardKernel], CONV);
  const flipped = g.floats(
    `${layer.name}_wgrad`,
    [layer.inChannels, layer.outChannels, 3, 3],
    kernels.backward,
  );
  return g.op('Conv', [grad, flipped], CONV);
}

/** The gradient of a 2x2 stride-2 pooling over `before`, which floors odd sizes (their last row/column gets zero). */
function poolBackward(g: GraphBuilder, grad: Value, pool: Pool, before: Grid): Value {
  const full = g.int64s([1, pool.channels, before.height, before.width]);
  if (pool.indices !== undefined) return g.op('MaxUnpool', [grad, pool.indices, full], POOL);
  // Average: each input of a window gets a quarter of the window's gradient: a nearest x2 upsample, which
  // onnxruntime runs in its blocked (NCHWc) layout; it folds the quarter into the conv that produced `grad`.
  const after = pooled(before);
  const quarter = g.op('Mul', [grad, g.scalar(0.25)]);
  const up = g.op('Resize', [quarter, '', g.floats('scales', [4], Float32Array.of(1, 1, 2, 2))], NEAREST_X2);
  const padH = before.height - 2 * after.height;
  const padW = before.width - 2 * after.width;
  return padH + padW === 0 ? up : g.op('Pad', [up, g.int64s([0, 0, 0, 0, 0, 0, padH, padW])]);
}
