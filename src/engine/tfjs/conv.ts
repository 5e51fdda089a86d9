/**
 * A 3x3, stride-1, 'same' convolution (NHWC input, HWIO kernel) with a hand-written input gradient.
 *
 * The WASM backend's stock Conv2DBackpropInput is a plain loop, about 10x slower than its XNNPACK forward
 * conv. For a 3x3 'same' conv (padding 1 on every side) the input gradient is itself a forward conv of dy
 * with the kernel flipped in space and its in/out channels swapped, so the backward pass runs at forward
 * speed. The kernel and bias are constants: no gradient flows to them.
 */
import type { Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { Tensor32 } from '../types.js';
import type { Tf } from './backend.js';

export interface Conv3x3 {
  readonly inChannels: number;
  readonly outChannels: number;
  /** conv(x, kernel) + bias, differentiable with respect to x. */
  apply(x: Tensor4D): Tensor4D;
  /** Frees the kernel, its flipped copy and the bias. */
  dispose(): void;
}

/**
 * kernel'[i, j, o, c] = kernel[2 - i, 2 - j, c, o]: the kernel of the input gradient of a 3x3 'same' conv.
 * Done in JS: the WASM backend's Reverse takes about a second over VGG's 20M weights, this a few ms.
 */
export function flipKernel(kernel: Tensor32): Tensor32 {
  const [kh, kw, inC, outC] = kernel.shape;
  const src = kernel.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const from = ((kh - 1 - i) * kw + (kw - 1 - j)) * inC * outC;
      const to = (i * kw + j) * outC * inC;
      for (let c = 0; c < inC; c++) {
        for (let o = 0; o < outC; o++) out[to + o * inC + c] = src[from + c * outC + o];
      }
    }
  }
  return { shape: [kh, kw, outC, inC], data: out };
}

/** Uploads the constants once (kernel, flipped kernel, bias) and returns the layer. */
export function createConv3x3(tf: Tf, kernel: Tensor32, bias: Tensor32): Conv3x3 {
  const [kh, kw, inChannels, outChannels] = kernel.shape;
  if (
    kernel.shape.length !== 4 ||
    kh !== 3 ||
    kw !== 3 ||
    bias.shape.length !== 1 ||
    bias.shape[0] !== outChannels
  ) {
    throw new RangeError(
      `expected a [3,3,in,out] kernel and an [out] bias, got [${kernel.shape}] and [${bias.shape}]`,
    );
  }
  const k = tf.tensor4d(kernel.data, [3, 3, inChannels, outChannels]);
  const kFlipped = tf.tensor4d(flipKernel(kernel).data, [3, 3, outChannels, inChannels]);
  const b = tf.tensor1d(bias.data);

  const apply = tf.customGrad((x) => ({
    value: tf.fused.conv2d({ x: x as Tensor4D, filter: k, strides: 1, pad: 'same', bias: b }),
    gradFunc: (dy) => tf.conv2d(dy as Tensor4D, kFlipped, 1, 'same'),
  })) as (x: Tensor4D) => Tensor4D;

  return {
    inChannels,
    outChannels,
    apply,
    dispose: () => tf.dispose([k, kFlipped, b] as Array<Tensor4D | Tensor1D>),
  };
}
