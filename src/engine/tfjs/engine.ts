/**
 * The reference engine: the loss of losses.ts written out in TensorFlow.js and differentiated by its
 * autodiff (with a fast input gradient for the convs, see conv.ts). Simple and obviously correct; the
 * onnx engine is held equal to it.
 */

import type { Scalar, Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { checkEngineCall, validateEngineSpec } from '../engine-spec.js';
import { normaliseBlend } from '../losses.js';
import type {
  EngineFactory,
  EngineSpec,
  LossAndGradient,
  LossTerms,
  RgbImage,
  StyleEngine,
} from '../types.js';
import { toNetworkInput } from '../vgg.js';
import { loadTf, type Tf } from './backend.js';
import { createGram, createVggNetwork, styleLayerSizes, type VggNetwork } from './network.js';

/** What x is compared with, computed once per engine. */
interface Targets {
  /** P: relu4_2 of the content image. */
  readonly content: Tensor4D;
  /** A_l: the blended style Grams, each already rescaled to x's size. */
  readonly grams: readonly Tensor2D[];
}

export const createTfjsEngine: EngineFactory = async (spec) => {
  validateEngineSpec(spec);
  const { tf, backend } = await loadTf({ threads: spec.threads });
  const net = createVggNetwork(tf, spec.weights, spec.pooling);
  const gram = createGram(tf);
  let targets: Targets;
  try {
    targets = computeTargets(tf, net, gram, spec);
  } catch (e) {
    net.dispose();
    throw e;
  }
  const terms = weightedTerms(tf, net, gram, targets, spec);
  const { width, height } = spec;
  let disposed = false;
  return {
    kind: 'tfjs',
    backend,
    width,
    height,
    async lossAndGradient(x: Float32Array): Promise<LossAndGradient> {
      checkEngineCall({ kind: 'tfjs', width, height }, disposed, x);
      return evaluate(tf, terms, x, [1, height, width, 3]);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      net.dispose();
      tf.dispose([targets.content, ...targets.grams]);
    },
  } satisfies StyleEngine;
};

/** The weighted loss terms [content, style, tv] of x, as tfjs scalars (their sum is what tfjs differentiates). */
type WeightedTerms = (x: Tensor4D) => [Scalar, Scalar, Scalar];

function weightedTerms(
  tf: Tf,
  net: VggNetwork,
  gram: (f: Tensor4D) => Tensor2D,
  targets: Targets,
  spec: EngineSpec,
): WeightedTerms {
  const { content: alpha, style: beta, tv: tvWeight, styleLayers } = spec.loss;
  // w_l / (4 N_l^2 M_l^2) at x's size, times beta.
  const styleCoefficients = styleLayerSizes(spec.width, spec.height).map((size, l) => {
    const n = targets.grams[l].shape[0];
    const m = size.width * size.height;
    return (beta * styleLayers[l]) / (4 * n * n * m * m);
  });
  return (x) => {
    const features = net.features(x);
    const content = tf.mul(
      tf.sum(tf.squaredDifference(features.content, targets.content)),
      0.5 * alpha,
    ) as Scalar;
    const style = features.style
      .map(
        (f, l) =>
          tf.mul(tf.sum(tf.squaredDifference(gram(f), targets.grams[l])), styleCoefficients[l]) as Scalar,
      )
      .reduce((a, b) => tf.add(a, b));
    const tv = tf.mul(totalVariation(tf, x), tvWeight) as Scalar;
    return [content, style, tv];
  };
}

/** The loss, its gradient and the terms at x (NHWC `shape`). */
async function evaluate(
  tf: Tf,
  weighted: WeightedTerms,
  x: Float32Array,
  shape: [number, number, number, number],
): Promise<LossAndGradient> {
  // The terms are kept out of valueAndGrad's scope to be read; everything is freed in `finally`.
  let terms: Scalar[] = [];
  let grad: Tensor | undefined;
  try {
    grad = tf.tidy(() =>
      tf.grad((xt: Tensor) => {
        terms = weighted(xt as Tensor4D).map((t) => tf.keep(t));
        return tf.add(tf.add(terms[0], terms[1]), terms[2]);
      })(tf.tensor4d(x, shape)),
    );
    const [gradData, ...termValues] = await Promise.all([
      grad.data<'float32'>(),
      ...terms.map((t) => t.data()),
    ]);
    const [content, style, tv] = termValues.map((v) => v[0]);
    const total = content + style + tv;
    const reported: LossTerms = { content, style, tv, total };
    return { loss: total, grad: gradData, terms: reported };
  } finally {
    tf.dispose([...terms, ...(grad ? [grad] : [])]);
  }
}

/** sum (x[i+1,j] - x[i,j])^2 + sum (x[i,j+1] - x[i,j])^2 over all channels. */
function totalVariation(tf: Tf, x: Tensor4D): Scalar {
  const [, h, w, c] = x.shape;
  const down = tf.squaredDifference(
    tf.slice(x, [0, 1, 0, 0], [1, h - 1, w, c]),
    tf.slice(x, [0, 0, 0, 0], [1, h - 1, w, c]),
  );
  const right = tf.squaredDifference(
    tf.slice(x, [0, 0, 1, 0], [1, h, w - 1, c]),
    tf.slice(x, [0, 0, 0, 0], [1, h, w - 1, c]),
  );
  return tf.add(tf.sum(down), tf.sum(right));
}

function computeTargets(tf: Tf, net: VggNetwork, gram: (f: Tensor4D) => Tensor2D, spec: EngineSpec): Targets {
  const input = (image: RgbImage) => tf.tensor4d(toNetworkInput(image), [1, image.height, image.width, 3]);
  const xPositions = styleLayerSizes(spec.width, spec.height).map((s) => s.width * s.height);
  const blend = normaliseBlend(spec.styles.map((s) => s.weight));
  const content = tf.tidy(() => net.features(input(spec.content)).content);
  let grams: Tensor2D[] = [];
  try {
    for (const [i, { image }] of spec.styles.entries()) {
      if (blend[i] === 0) continue;
      // One style at a time, so only one style image's activations are alive at once.
      const next = tf.tidy(() => {
        const positions = styleLayerSizes(image.width, image.height).map((s) => s.width * s.height);
        return net.features(input(image)).style.map((f, l) => {
          const scaled = tf.mul(gram(f), (blend[i] * xPositions[l]) / positions[l]) as Tensor2D;
          return grams.length > 0 ? (tf.add(grams[l], scaled) as Tensor2D) : scaled;
        });
      });
      tf.dispose(grams);
      grams = next;
    }
  } catch (e) {
    tf.dispose([content, ...grams]);
    throw e;
  }
  return { content, grams };
}
