/**
 * Validation of an EngineSpec and of each lossAndGradient call, shared by every engine so they reject the
 * same things the same way, with the same NstError codes.
 */
import { NstError } from '../errors.js';
import { styleRegions } from './masks.js';
import type { EngineSpec, MaskImage, RgbImage, StyleEngine, TileEngineSpec } from './types.js';
import { expectedWeightShapes, MIN_IMAGE_SIDE, STYLE_LAYERS } from './vgg.js';

const invalid = (message: string) => new NstError('INVALID_OPTION', message);

function checkImage(what: string, image: RgbImage): void {
  if (image.width < MIN_IMAGE_SIDE || image.height < MIN_IMAGE_SIDE) {
    throw invalid(
      `${what} is ${image.width}x${image.height}; VGG-19 needs at least ${MIN_IMAGE_SIDE} px per side`,
    );
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw invalid(`${what} has ${image.data.length} values for ${image.width}x${image.height} RGB`);
  }
}

/** A mask is at x's size, one value per pixel, each in 0..1. */
function checkMask(what: string, mask: MaskImage, width: number, height: number): void {
  if (mask.width !== width || mask.height !== height || mask.data.length !== width * height) {
    throw invalid(
      `${what} is ${mask.width}x${mask.height} with ${mask.data.length} values, expected ${width}x${height}`,
    );
  }
  if (!mask.data.every((v) => v >= 0 && v <= 1)) throw invalid(`${what} has values outside 0..1`);
}

/** The style images, their masks at x's size, and each region's blend weights. */
function validateStyles({ styles, width, height }: EngineSpec): void {
  if (styles.length === 0) throw invalid('at least one style image is needed');
  for (const [i, s] of styles.entries()) {
    checkImage(`style image ${i + 1}`, s.image);
    if (s.mask) checkMask(`the mask of style image ${i + 1}`, s.mask, width, height);
  }
  try {
    // The blend weights of each region (the styles sharing a mask) must not be all zero.
    styleRegions(width, height, styles);
  } catch (e) {
    throw invalid((e as Error).message);
  }
}

/** Throws INVALID_OPTION (or WEIGHTS_INVALID) naming the first problem of the spec. */
export function validateEngineSpec(spec: EngineSpec | TileEngineSpec): void {
  const { width, height } = spec;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < MIN_IMAGE_SIDE ||
    height < MIN_IMAGE_SIDE
  ) {
    throw invalid(
      `image size ${width}x${height}: VGG-19 needs integer sides of at least ${MIN_IMAGE_SIDE} px`,
    );
  }
  checkImage('the content image', spec.content);
  if (spec.content.width !== width || spec.content.height !== height) {
    throw invalid(
      `the content image is ${spec.content.width}x${spec.content.height}, expected ${width}x${height}`,
    );
  }
  // A tile given the whole image's style targets reads no style image.
  if (!('styleTargets' in spec && spec.styleTargets)) validateStyles(spec);
  const { content, style, tv, styleLayers } = spec.loss;
  if (styleLayers.length !== STYLE_LAYERS.length) {
    throw invalid(`expected ${STYLE_LAYERS.length} style layer weights, got ${styleLayers.length}`);
  }
  for (const w of [content, style, tv, ...styleLayers]) {
    if (!Number.isFinite(w) || w < 0)
      throw invalid(`loss weights must be finite and non-negative (got ${w})`);
  }
  if (spec.threads !== undefined && !(Number.isInteger(spec.threads) && spec.threads >= 1)) {
    throw invalid(`threads must be a positive integer, got ${spec.threads}`);
  }
  for (const [name, shape] of expectedWeightShapes()) {
    const t = spec.weights.get(name);
    if (!t || t.shape.join() !== shape.join() || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new NstError('WEIGHTS_INVALID', `VGG-19 weight ${name} is missing or not of shape [${shape}]`);
    }
  }
}

/** Throws INTERNAL (a bug in the caller) for a call after dispose() or an x of the wrong length. */
export function checkEngineCall(
  engine: Pick<StyleEngine, 'kind' | 'width' | 'height'>,
  disposed: boolean,
  x: Float32Array,
): void {
  const { kind, width, height } = engine;
  if (disposed) throw new NstError('INTERNAL', `lossAndGradient called on a disposed ${kind} engine`);
  if (x.length !== width * height * 3) {
    throw new NstError(
      'INTERNAL',
      `x has ${x.length} values, expected ${width * height * 3} (${width}x${height}x3)`,
    );
  }
}
