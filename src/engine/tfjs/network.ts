/**
 * VGG-19 through relu5_1 in tfjs: the forward pass that yields the style (relu1_1 .. relu5_1) and
 * content (relu4_2) features, and the Gram matrix of a feature map.
 */
import type { GradSaveFunc, Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { NstError } from '../../errors.js';
import { gridOf } from '../shapes.js';
import type { Pooling, VggWeights } from '../types.js';
import { biasName, CONTENT_LAYER, kernelName, STYLE_LAYERS, VGG19_LAYERS } from '../vgg.js';
import type { Tf } from './backend.js';
import { type Conv3x3, createConv3x3 } from './conv.js';

interface VggFeatures {
  /** relu1_1 .. relu5_1, NHWC. */
  readonly style: readonly Tensor4D[];
  /** relu4_2, NHWC. */
  readonly content: Tensor4D;
}

export interface VggNetwork {
  /** x: [1, H, W, 3] in network space. Differentiable with respect to x. */
  features(x: Tensor4D): VggFeatures;
  /** Frees the weights. */
  dispose(): void;
}

/** Spatial size of each style layer's feature map for an input of width x height ('valid' 2x2 pooling floors). */
export function styleLayerSizes(width: number, height: number): { width: number; height: number }[] {
  return STYLE_LAYERS.map((layer) => gridOf(layer, width, height));
}

/** Uploads the weights (conv1_1 .. conv5_1) and returns the network. */
export function createVggNetwork(tf: Tf, weights: VggWeights, pooling: Pooling): VggNetwork {
  const convs: Conv3x3[] = [];
  try {
    for (const layer of VGG19_LAYERS) {
      const kernel = weights.get(kernelName(layer.name));
      const bias = weights.get(biasName(layer.name));
      if (!kernel || !bias) {
        throw new NstError(
          'WEIGHTS_INVALID',
          `VGG-19 weights lack ${layer.name}; re-run \`nst weights convert\``,
        );
      }
      const conv = createConv3x3(tf, kernel, bias);
      convs.push(conv);
      if (conv.inChannels !== layer.inChannels || conv.outChannels !== layer.outChannels) {
        throw new NstError(
          'WEIGHTS_INVALID',
          `${layer.name} has ${conv.inChannels}->${conv.outChannels} channels, VGG-19 has ${layer.inChannels}->${layer.outChannels}`,
        );
      }
    }
  } catch (e) {
    for (const conv of convs) conv.dispose();
    throw e;
  }

  // The WASM backend's MaxPoolGrad drops the gradient of windows with no positive value (tfjs 4.22,
  // measured). Harmless here: pooling follows a ReLU, whose gradient is 0 on all inputs of such a window.
  const pool = (x: Tensor4D) =>
    pooling === 'avg' ? tf.avgPool(x, 2, 2, 'valid') : tf.maxPool(x, 2, 2, 'valid');

  return {
    features(x) {
      const style: Tensor4D[] = [];
      let content: Tensor4D | undefined;
      let h = x;
      for (const [i, layer] of VGG19_LAYERS.entries()) {
        h = tf.relu(convs[i].apply(h));
        if ((STYLE_LAYERS as readonly string[]).includes(layer.name)) style.push(h);
        if (layer.name === CONTENT_LAYER) content = h;
        if (layer.poolAfter) h = pool(h);
      }
      if (!content) throw new NstError('INTERNAL', `${CONTENT_LAYER} is not in the VGG-19 layer table`);
      return { style, content };
    },
    dispose() {
      for (const conv of convs) conv.dispose();
    },
  };
}

/**
 * G = F^T F for a feature map F reshaped to [M positions, N channels]. The WASM backend's matMul with a
 * transposed operand is about 10x slower than transposing first, so both passes use plain matMuls; the
 * gradient is F (dG + dG^T) (one matMul, where autodiff would do two).
 */
export function createGram(tf: Tf): (features: Tensor4D) => Tensor2D {
  const gram = tf.customGrad((f, save) => {
    const flat = f as Tensor2D;
    (save as GradSaveFunc)([flat]);
    return {
      value: tf.matMul(tf.transpose(flat), flat),
      gradFunc: (dy, [saved]) => tf.matMul(saved as Tensor2D, tf.add(dy, tf.transpose(dy)) as Tensor2D),
    };
  }) as (f: Tensor) => Tensor2D;
  return (features) => {
    const [, h, w, c] = features.shape;
    return gram(tf.reshape(features, [h * w, c]));
  };
}
