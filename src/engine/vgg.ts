/**
 * VGG-19 through relu5_1: the layer table, the Caffe preprocessing its weights expect, and a generator of
 * weights with the right shapes (for tests and benchmarks that do not need real values).
 */
import type { RgbImage, Tensor32, VggWeights } from './types.js';

export interface ConvLayer {
  /** Keras name, e.g. block1_conv1. */
  readonly name: string;
  readonly inChannels: number;
  readonly outChannels: number;
  /** A 2x2 stride-2 pooling follows this conv's ReLU. */
  readonly poolAfter: boolean;
}

const conv = (block: number, index: number, inChannels: number, outChannels: number, poolAfter = false) => ({
  name: `block${block}_conv${index}`,
  inChannels,
  outChannels,
  poolAfter,
});

/** The 13 convolutions of VGG-19 up to relu5_1, in order. Every conv is 3x3, stride 1, 'same' padding, then ReLU. */
export const VGG19_LAYERS: readonly ConvLayer[] = [
  conv(1, 1, 3, 64),
  conv(1, 2, 64, 64, true),
  conv(2, 1, 64, 128),
  conv(2, 2, 128, 128, true),
  conv(3, 1, 128, 256),
  conv(3, 2, 256, 256),
  conv(3, 3, 256, 256),
  conv(3, 4, 256, 256, true),
  conv(4, 1, 256, 512),
  conv(4, 2, 512, 512),
  conv(4, 3, 512, 512),
  conv(4, 4, 512, 512, true),
  conv(5, 1, 512, 512),
];

/** Four 2x2 poolings precede relu5_1: smaller images leave it no positions and the style loss undefined. */
export const MIN_IMAGE_SIDE = 16;

/** Style features: relu1_1 .. relu5_1. */
export const STYLE_LAYERS = [
  'block1_conv1',
  'block2_conv1',
  'block3_conv1',
  'block4_conv1',
  'block5_conv1',
] as const;
/** Content feature: relu4_2. */
export const CONTENT_LAYER = 'block4_conv2';

/** ImageNet channel means in BGR order, as the original Caffe VGG weights were trained with. */
const IMAGENET_MEAN_BGR = [103.939, 116.779, 123.68] as const;

export const kernelName = (layer: string) => `${layer}/kernel`;
export const biasName = (layer: string) => `${layer}/bias`;

/** Expected shape of every weight tensor, by name. */
export function expectedWeightShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const l of VGG19_LAYERS) {
    shapes.set(kernelName(l.name), [3, 3, l.inChannels, l.outChannels]);
    shapes.set(biasName(l.name), [l.outChannels]);
  }
  return shapes;
}

/** RGB 0..255 (HWC) -> network input (HWC, BGR, mean-subtracted). */
export function toNetworkInput(image: RgbImage): Float32Array {
  const { data } = image;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i += 3) {
    out[i] = data[i + 2] - IMAGENET_MEAN_BGR[0];
    out[i + 1] = data[i + 1] - IMAGENET_MEAN_BGR[1];
    out[i + 2] = data[i] - IMAGENET_MEAN_BGR[2];
  }
  return out;
}

/** The exact inverse of toNetworkInput (no clamping: callers clamp when they quantise). */
export function fromNetworkInput(x: Float32Array, width: number, height: number): RgbImage {
  if (x.length !== width * height * 3)
    throw new RangeError(`expected ${width * height * 3} values, got ${x.length}`);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += 3) {
    out[i] = x[i + 2] + IMAGENET_MEAN_BGR[2];
    out[i + 1] = x[i + 1] + IMAGENET_MEAN_BGR[1];
    out[i + 2] = x[i] + IMAGENET_MEAN_BGR[0];
  }
  return { width, height, data: out };
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Weights of the right shapes with He-style scaling (activations keep a sane magnitude through 13 layers),
 * deterministic in the seed. For tests and benchmarks that need shapes, not real values.
 */
export function generateVggWeights(seed = 1): VggWeights {
  const rand = seededRandom(seed);
  const weights = new Map<string, Tensor32>();
  for (const l of VGG19_LAYERS) {
    const fanIn = 9 * l.inChannels;
    const scale = Math.sqrt(6 / fanIn) * (l.inChannels === 3 ? 1 / 64 : 1);
    const kernel = new Float32Array(fanIn * l.outChannels);
    for (let i = 0; i < kernel.length; i++) kernel[i] = (rand() * 2 - 1) * scale;
    const bias = new Float32Array(l.outChannels);
    for (let i = 0; i < bias.length; i++) bias[i] = (rand() * 2 - 1) * 0.05;
    weights.set(kernelName(l.name), { shape: [3, 3, l.inChannels, l.outChannels], data: kernel });
    weights.set(biasName(l.name), { shape: [l.outChannels], data: bias });
  }
  return weights;
}
