/**
 * What an engine gets at one scale of a run: the content and styles resampled for it, and the image the
 * scale starts from when nothing came before it.
 */
import { styleSizeAt } from './input-limits.js';
import type { StylizeOptions } from './options.js';
import { resampleHwc, resampleImage } from './resample.js';
import type { Scale } from './schedule.js';
import { styleWeightOf } from './style-strength.js';
import type { StylizeInput } from './stylize.js';
import type { EngineSpec, MaskImage, RgbImage, VggWeights } from './types.js';
import { seededRandom, toNetworkInput } from './vgg.js';

/** The engine's view of one scale: content and styles resized for it. */
export function engineSpec(
  input: StylizeInput,
  options: StylizeOptions,
  scale: Scale,
  weights: VggWeights,
): EngineSpec {
  return {
    weights,
    width: scale.width,
    height: scale.height,
    pooling: options.pooling,
    loss: {
      content: options.contentWeight,
      style: styleWeightOf(options),
      tv: options.tvWeight,
      styleLayers: options.styleLayerWeights,
    },
    content: resampleImage(input.content, scale.width, scale.height),
    styles: input.styles.map(({ image, weight, mask }) => {
      const size = styleSizeAt(image, scale, options);
      const resized = { image: resampleImage(image, size.width, size.height), weight };
      return mask ? { ...resized, mask: resampleMask(mask, scale.width, scale.height) } : resized;
    }),
    threads: options.threads,
  };
}

/** A mask at a scale's size, with the resampling the content gets (clamped: rounding may overshoot 0..1). */
function resampleMask(mask: MaskImage, width: number, height: number): MaskImage {
  const data = resampleHwc(mask.data, mask.width, mask.height, width, height, 1);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, data[i]));
  return { width, height, data };
}

/** The starting image at a scale, in network space. */
export function initialImage(input: StylizeInput, options: StylizeOptions, scale: Scale): Float32Array {
  switch (options.init) {
    case 'content':
      return toNetworkInput(resampleImage(input.content, scale.width, scale.height));
    case 'image':
      return toNetworkInput(resampleImage(input.initImage!, scale.width, scale.height));
    case 'random': {
      // Uniform noise over the pixel range: seeded, so runs repeat exactly.
      const rand = seededRandom(options.seed);
      const data = new Float32Array(scale.width * scale.height * 3);
      for (let i = 0; i < data.length; i++) data[i] = rand() * 255;
      return toNetworkInput({ width: scale.width, height: scale.height, data });
    }
  }
}

export function clampImage(image: RgbImage): RgbImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, image.data[i]));
  return { width: image.width, height: image.height, data };
}
