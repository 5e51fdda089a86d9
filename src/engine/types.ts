/**
 * The engine seam (see docs/ARCHITECTURE.md). Everything outside src/engine talks to engines through these types.
 *
 * Layout convention shared by every engine: the optimised image `x` is a Float32Array of length
 * height * width * 3 in NHWC order (batch 1) in the network's input space (Caffe preprocessing: BGR,
 * 0..255, minus the ImageNet means; see vgg.ts). Engines that work in NCHW transpose internally,
 * so optimisers and the coarse-to-fine driver never care.
 */

import type { TileLoss } from './tiling.js';

/** A dense float32 tensor (weights, features, Grams). Row-major. */
export interface Tensor32 {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** VGG-19 weights by Keras name: `block1_conv1/kernel` (HWIO) and `block1_conv1/bias`, through block5_conv1. */
export type VggWeights = ReadonlyMap<string, Tensor32>;

/** An RGB image, HWC, values 0..255 as floats. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** A single-channel image, row-major, values 0..1: a style mask (1: the style applies there). */
export interface MaskImage {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export type Pooling = 'avg' | 'max';
/** The engines (engine/index.ts prefers them in another order). */
export const ENGINE_KINDS = ['tfjs', 'onnx'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];
export type EngineChoice = EngineKind | 'auto';

/** Loss weights. Defaults live in losses.ts. */
export interface LossWeights {
  /** alpha: weight of the content loss. */
  readonly content: number;
  /** beta: weight of the style loss. */
  readonly style: number;
  /** weight of the total-variation loss (0 turns it off). */
  readonly tv: number;
  /** Per-layer style weights w_l for relu1_1..relu5_1 (5 entries). */
  readonly styleLayers: readonly number[];
}

/**
 * Loss terms as reported: each is the weighted contribution to the total
 * (content = alpha * Lc, style = beta * Ls, tv = tvWeight * Ltv), so content + style + tv = total.
 */
export interface LossTerms {
  readonly content: number;
  readonly style: number;
  readonly tv: number;
  readonly total: number;
}

export interface LossAndGradient {
  readonly loss: number;
  /** dLoss/dx, same layout and length as x. Engines may reuse this buffer across calls: copy it to keep it. */
  readonly grad: Float32Array;
  readonly terms: LossTerms;
}

export interface StyleImage {
  /** The style image at the size its features are taken (style scale already applied). */
  readonly image: RgbImage;
  /** Blend weight; the engine normalises the weights of the styles that share a mask to sum to 1. */
  readonly weight: number;
  /**
   * Where this style applies (losses.ts, spatial control), at the optimised image's width x height in an
   * EngineSpec and at the content's size in stylize()'s input. None: the whole image.
   */
  readonly mask?: MaskImage;
}

/** Everything an engine needs for one scale of the optimisation. */
export interface EngineSpec {
  readonly weights: VggWeights;
  /** Size of the optimised image at this scale. */
  readonly width: number;
  readonly height: number;
  readonly pooling: Pooling;
  readonly loss: LossWeights;
  /** The content image, already resized to width x height. */
  readonly content: RgbImage;
  readonly styles: readonly StyleImage[];
  /** Worker threads (default: all cores). */
  readonly threads?: number;
}

export interface StyleEngine {
  readonly kind: EngineKind;
  /** What actually runs, for reports: 'tfjs-wasm', 'tfjs-node', 'onnx-cpu', 'onnx-cuda'. */
  readonly backend: string;
  readonly width: number;
  readonly height: number;
  lossAndGradient(x: Float32Array): Promise<LossAndGradient>;
  dispose(): void;
}

export type EngineFactory = (spec: EngineSpec) => Promise<StyleEngine>;

/**
 * One tile of a larger image (tiling.ts). With `styleTargets` given it needs no styles (tiled-scale.ts gives
 * none): `tile.regions` are the whole image's regions, masked to the tile and weighted by its share.
 */
export interface TileEngineSpec extends EngineSpec {
  readonly tile: TileLoss;
  /**
   * A_{r,l} of the whole image (style-targets.ts), computed once per scale in bounded memory; absent: the
   * engine computes them from its styles.
   */
  readonly styleTargets?: readonly Float32Array[];
}

/**
 * An engine of one tile. Its loss is the tile's share of the whole image's, whose style residual comes
 * from every tile: the driver gives it Gram targets that take the other tiles' contributions out
 * (setStyleTargets), and asks for its own contributions (evaluateTile). Grams are indexed region * 5 + layer.
 */
export interface TileEngine extends StyleEngine {
  /** A_{r,l}: the styles' blended Grams, normalised for the whole image (losses.ts). */
  readonly styleTargets: readonly Float32Array[];
  /**
   * The tile at x: G_{r,l}, its weighted contributions to the whole image's Grams, and its loss terms (its
   * content and TV terms are its shares of the whole image's; its style term is against its current targets).
   */
  evaluateTile(x: Float32Array): Promise<{ readonly grams: Float32Array[]; readonly terms: LossTerms }>;
  /** Replaces the targets the tile's style terms compare its Grams with (copied). */
  setStyleTargets(targets: readonly Float32Array[]): void;
}
