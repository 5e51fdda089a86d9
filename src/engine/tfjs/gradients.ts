/**
 * Gradients of the kernels the loss differentiates through, registered where tfjs has none.
 *
 * tfjs-core's CommonJS build (what Node loads) registers no gradients: they live only in its ESM-only
 * `dist/register_all_gradients.js`, which Node cannot import (extensionless and directory specifiers),
 * and the @tensorflow/tfjs meta-package that bundles them would drag in layers, converter and WebGL.
 * So these mirror tfjs-core's own gradient configs for exactly the kernels the engine uses. Where a
 * gradient is already registered (tfjs-node brings the full set) it is left alone.
 */
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';
import type { Tf } from './backend.js';

type PoolAttrs = {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same';
};

/** Sums g over the axes broadcasting added, back to `shape`. */
function unbroadcast(tf: Tf, g: Tensor, shape: number[], outShape: number[]): Tensor {
  const axes = tf.broadcast_util.getReductionAxes(shape, outShape);
  return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
}

function binaryBroadcastGrad(
  tf: Tf,
  kernelName: string,
  da: (a: Tensor, b: Tensor, dy: Tensor) => Tensor,
  db: (a: Tensor, b: Tensor, dy: Tensor) => Tensor,
): GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => {
      const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
      return {
        a: () => unbroadcast(tf, da(a, b, dy as Tensor), a.shape, outShape),
        b: () => unbroadcast(tf, db(a, b, dy as Tensor), b.shape, outShape),
      };
    },
  };
}

/** Element-wise arithmetic with broadcasting. */
const arithmeticGradients = (tf: Tf): GradConfig[] => [
  binaryBroadcastGrad(
    tf,
    'Add',
    (_a, _b, dy) => dy,
    (_a, _b, dy) => dy,
  ),
  binaryBroadcastGrad(
    tf,
    'Multiply',
    (_a, b, dy) => tf.mul(dy, b),
    (a, _b, dy) => tf.mul(dy, a),
  ),
  binaryBroadcastGrad(
    tf,
    'SquaredDifference',
    (a, b, dy) => tf.mul(dy, tf.mul(2, tf.sub(a, b))),
    (a, b, dy) => tf.mul(dy, tf.mul(2, tf.sub(b, a))),
  ),
];

/** Reductions and reshaping: the gradient puts dy back in the input's shape. */
const shapeGradients = (tf: Tf): GradConfig[] => [
  {
    kernelName: 'Sum',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const keptShape = x.shape.slice();
      for (const axis of tf.util.parseAxisParam((attrs as NamedAttrMap).axis as number | number[], x.shape))
        keptShape[axis] = 1;
      return { x: () => tf.mul(tf.reshape(dy as Tensor, keptShape), tf.ones(x.shape)) };
    },
  },
  {
    // avgPool casts its result to the input's dtype: float32 to float32 here.
    kernelName: 'Cast',
    gradFunc: (dy) => ({ x: () => tf.clone(dy as Tensor) }),
  },
  {
    kernelName: 'Reshape',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.reshape(dy as Tensor, x.shape) }),
  },
  {
    kernelName: 'Slice',
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const { begin, size } = attrs as unknown as { begin: number[]; size: number[] };
      const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
      const padding = x.shape.map((n, i) => [b[i], n - b[i] - s[i]] as [number, number]);
      return { x: () => tf.pad(dy as Tensor, padding) };
    },
  },
];

/** A pooling kernel's gradient: tfjs's own backward kernel, given the saved tensors it needs. */
function poolGrad(tf: Tf, kernelName: 'AvgPool' | 'MaxPool', saveOutput: boolean): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    ...(saveOutput ? { outputsToSave: [true] } : {}),
    gradFunc: (dy, [x, y], attrs) => {
      const { filterSize, strides, pad } = attrs as unknown as PoolAttrs;
      const inputs = { dy: dy as Tensor, input: x, ...(saveOutput ? { output: y } : {}) };
      return {
        x: () => tf.engine().runKernel(`${kernelName}Grad`, inputs, { filterSize, strides, pad }) as Tensor,
      };
    },
  };
}

/** The network's non-linearities: ReLU and the two poolings. */
const networkGradients = (tf: Tf): GradConfig[] => [
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as Tensor, tf.step(x)) }),
  },
  poolGrad(tf, 'AvgPool', false),
  poolGrad(tf, 'MaxPool', true),
];

const gradConfigs = (tf: Tf): GradConfig[] => [
  ...arithmeticGradients(tf),
  ...shapeGradients(tf),
  ...networkGradients(tf),
];

/** Registers the gradients above that tfjs does not already have. Idempotent. */
export function registerMissingGradients(tf: Tf): void {
  for (const config of gradConfigs(tf)) {
    if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
  }
}
