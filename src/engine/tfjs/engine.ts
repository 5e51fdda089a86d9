/**
 * The reference engine: the loss of losses.ts written out in TensorFlow.js and differentiated by its
 * autodiff (with a fast input gradient for the convs, see conv.ts). Simple and obviously correct; the
 * onnx engine is held equal to it.
 */

import type { Scalar, Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { checkEngineCall, validateEngineSpec } from '../engine-spec.js';
import { styleCoefficient } from '../losses.js';
import { type StyleRegion, styleRegions } from '../masks.js';
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
  /** Per region (masks.ts), A_{r,l}: its blended style Grams, each rescaled to its effective size (losses.ts). */
  readonly grams: readonly (readonly Tensor2D[])[];
  /** Per region, its mask at each style layer as [1, H_l, W_l, 1], or none (the whole image, unweighted). */
  readonly masks: readonly (readonly (Tensor4D | undefined)[])[];
}

const targetTensors = (t: Targets): Tensor[] => [
  t.content,
  ...t.grams.flat(),
  ...t.masks.flat().filter((m) => m !== undefined),
];

export const createTfjsEngine: EngineFactory = async (spec) => {
  validateEngineSpec(spec);
  const { tf, backend } = await loadTf({ threads: spec.threads });
  const net = createVggNetwork(tf, spec.weights, spec.pooling);
  const gram = createGram(tf);
  const regions = styleRegions(spec.width, spec.height, spec.styles);
  let targets: Targets;
  try {
    targets = computeTargets(tf, net, gram, spec, regions);
  } catch (e) {
    net.dispose();
    throw e;
  }
  const terms = weightedTerms(tf, net, gram, targets, spec, regions);
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
      tf.dispose(targetTensors(targets));
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
  regions: readonly StyleRegion[],
): WeightedTerms {
  const { content: alpha, style: beta, tv: tvWeight, styleLayers } = spec.loss;
  const sizes = styleLayerSizes(spec.width, spec.height);
  // beta * w_l / (4 N_l^2 M_l E_{r,l}) at x's size (losses.ts).
  const styleCoefficients = regions.map((region, r) =>
    sizes.map((size, l) =>
      styleCoefficient(
        beta * styleLayers[l],
        targets.grams[r][l].shape[0],
        size.width * size.height,
        region.effective[l],
      ),
    ),
  );
  return (x) => {
    const features = net.features(x);
    const content = tf.mul(
      tf.sum(tf.squaredDifference(features.content, targets.content)),
      0.5 * alpha,
    ) as Scalar;
    const style = regions
      .flatMap((_, r) =>
        features.style.map((f, l) => {
          const mask = targets.masks[r][l];
          const weighted = mask ? (tf.mul(f, mask) as Tensor4D) : f;
          const sq = tf.sum(tf.squaredDifference(gram(weighted), targets.grams[r][l]));
          return tf.mul(sq, styleCoefficients[r][l]) as Scalar;
        }),
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

function computeTargets(
  tf: Tf,
  net: VggNetwork,
  gram: (f: Tensor4D) => Tensor2D,
  spec: EngineSpec,
  regions: readonly StyleRegion[],
): Targets {
  const input = (image: RgbImage) => tf.tensor4d(toNetworkInput(image), [1, image.height, image.width, 3]);
  const sizes = styleLayerSizes(spec.width, spec.height);
  const content = tf.tidy(() => net.features(input(spec.content)).content);
  const grams: Tensor2D[][] = [];
  const masks = regions.map((region) =>
    region.masks.map((m, l) => m && tf.tensor4d(m, [1, sizes[l].height, sizes[l].width, 1])),
  );
  // A_{r,l}, one style at a time, so only one style image's activations are alive at once.
  const regionGrams = (region: StyleRegion): Tensor2D[] => {
    let sums: Tensor2D[] = [];
    try {
      for (const [k, s] of region.styles.entries()) {
        if (region.blend[k] === 0) continue;
        const { image } = spec.styles[s];
        const next = tf.tidy(() => {
          const positions = styleLayerSizes(image.width, image.height).map((z) => z.width * z.height);
          return net.features(input(image)).style.map((f, l) => {
            const scaled = tf.mul(
              gram(f),
              (region.blend[k] * region.effective[l]) / positions[l],
            ) as Tensor2D;
            return sums.length > 0 ? (tf.add(sums[l], scaled) as Tensor2D) : scaled;
          });
        });
        tf.dispose(sums);
        sums = next;
      }
    } catch (e) {
      tf.dispose(sums);
      throw e;
    }
    return sums;
  };
  try {
    for (const region of regions) grams.push(regionGrams(region));
  } catch (e) {
    tf.dispose(targetTensors({ content, grams, masks }));
    throw e;
  }
  return { content, grams, masks };
}
