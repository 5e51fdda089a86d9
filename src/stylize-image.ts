/**
 * stylizeImage(): image bytes in, encoded stylised image out. The one composition of image I/O and the
 * engine, shared by the CLI, the job runner (Lambda, Batch, local) and the example: decode and validate
 * every input first (so a bad style fails before minutes of work), resize the content with a high-quality
 * filter, match the styles' colours to it (colorMatch), run stylize(), keep the content's colours
 * (originalColors), encode. Callers that decoded the inputs already (a pipeline run, which routes on the
 * content's size) call stylizeDecodedImage(). Writes nothing: callers decide where bytes go.
 */
import type { StylizeOptions } from './engine/options.js';
import { type StylizeContext, type StylizeInput, type StylizeResult, stylize } from './engine/stylize.js';
import type { MaskImage, RgbImage } from './engine/types.js';
import { NstError } from './errors.js';
import { luminanceOnly, transferLuminance } from './image/colour.js';
import { matchColours } from './image/colour-match.js';
import { type DecodedImage, decodeImage } from './image/decode.js';
import { encodeImage } from './image/encode.js';
import type { OutputFormat } from './image/formats.js';
import { fitLongestSide, resizeImage } from './image/resize.js';

/** An image given as a file path or its bytes; `name` is what error messages call it. */
export interface ImageSource {
  readonly data: string | Buffer | Uint8Array;
  readonly name: string;
}

export interface ImageInputs {
  readonly content: ImageSource;
  /** Styles, each with an optional mask: where it applies (white), any size, stretched to the content. */
  readonly styles: readonly {
    readonly source: ImageSource;
    readonly weight: number;
    readonly mask?: ImageSource;
  }[];
  readonly initImage?: ImageSource;
}

export interface OutputSettings {
  readonly format: OutputFormat;
  readonly quality?: number;
  /** Carry the content's alpha channel into the result (formats with alpha only). */
  readonly keepAlpha?: boolean;
  readonly maxPixels?: number;
}

export interface StylizedImage {
  readonly output: Buffer;
  readonly result: StylizeResult;
  /** The content as the engine saw it (resized), for contact sheets. */
  readonly content: RgbImage;
}

export interface DecodedInputs {
  readonly content: DecodedImage;
  readonly styles: readonly { readonly image: RgbImage; readonly weight: number; readonly mask?: RgbImage }[];
  readonly initImage?: RgbImage;
}

/** Decodes and validates every input image; throws the first input error. */
export async function decodeInputs(input: ImageInputs, output: OutputSettings): Promise<DecodedInputs> {
  if (input.styles.length === 0) throw new NstError('INVALID_OPTION', 'at least one style image is required');
  const decode = (source: ImageSource, alpha: 'keep' | 'flatten') =>
    decodeImage(source.data, { name: source.name, maxPixels: output.maxPixels, alpha });
  // JPEG has no alpha: flatten like any other run rather than keep a plane the encoder would drop.
  const keepAlpha = output.keepAlpha && output.format !== 'jpeg';
  const content = await decode(input.content, keepAlpha ? 'keep' : 'flatten');
  const styles = [];
  for (const style of input.styles) {
    const image = (await decode(style.source, 'flatten')).image;
    // A mask's transparent pixels count as black: the style does not apply there.
    const mask = style.mask && (await decodeMask(style.mask, output.maxPixels));
    styles.push({ image, weight: style.weight, ...(mask ? { mask } : {}) });
  }
  const initImage = input.initImage ? (await decode(input.initImage, 'flatten')).image : undefined;
  return { content, styles, initImage };
}

/** The size of the result (and of the last scale): the content fitted to `options.size`. */
export function resultSize(
  content: { readonly width: number; readonly height: number },
  options: Pick<StylizeOptions, 'size'>,
): { width: number; height: number } {
  return fitLongestSide(content.width, content.height, options.size);
}

/** Decodes the inputs, then stylizes them: for callers that have the images' bytes or paths. */
export async function stylizeImage(
  input: ImageInputs,
  options: StylizeOptions,
  output: OutputSettings,
  context: StylizeContext,
): Promise<StylizedImage> {
  return stylizeDecodedImage(await decodeInputs(input, output), options, output, context);
}

/**
 * Resizes the content to the result's size, stylizes it, and encodes the result with the content's alpha.
 * The size is the last scale's when the caller planned the scales (context.scales), else resultSize().
 */
export async function stylizeDecodedImage(
  decoded: DecodedInputs,
  options: StylizeOptions,
  output: OutputSettings,
  context: StylizeContext,
): Promise<StylizedImage> {
  // An empty plan falls through to resultSize(); stylize() then refuses it.
  const size = context.scales?.at(-1) ?? resultSize(decoded.content, options);
  const input = await stylizeInputOf(decoded, options, size);
  return finishStylized(decoded, options, output, input.content, await stylize(input, options, context));
}

/** What stylize() gets: the content resized to the result's size, the styles (colour-matched) and masks. */
export async function stylizeInputOf(
  decoded: DecodedInputs,
  options: Pick<StylizeOptions, 'colorMatch'>,
  size: { readonly width: number; readonly height: number },
): Promise<StylizeInput> {
  const content = await resizeImage(decoded.content.image, size.width, size.height);
  const styles = [];
  for (const { image, weight, mask } of styleImages(decoded.styles, content, options))
    styles.push({ image, weight, ...(mask ? { mask: await maskAt(mask, size.width, size.height) } : {}) });
  return { content, styles, initImage: decoded.initImage };
}

/**
 * stylize()'s result as the user gets it: the content's colours kept (originalColors), its alpha carried
 * over, encoded. `content` is the content at the result's size (stylizeInputOf).
 */
export async function finishStylized(
  decoded: DecodedInputs,
  options: Pick<StylizeOptions, 'originalColors'>,
  output: OutputSettings,
  content: RgbImage,
  stylized: StylizeResult,
): Promise<StylizedImage> {
  const { width, height } = content;
  const image = options.originalColors ? transferLuminance(stylized.image, content) : stylized.image;
  const result = { ...stylized, image };
  const alpha = decoded.content.alpha ? await resizeAlpha(decoded.content, width, height) : undefined;
  const encoded = await encodeImage(result.image, { format: output.format, quality: output.quality, alpha });
  return { output: encoded, result, content };
}

/**
 * The styles as the engine gets them: with colorMatch, each one's colours mapped to the content's mean and
 * covariance (new images; the decoded ones are kept). With originalColors as well, both apply in turn: the
 * matched styles are stylised, then the result's luminance goes onto the content's chrominance. The match
 * gives the style the content's luminance mean and spread too (luma is linear in RGB), which is what Gatys
 * et al. (2017) do to the style before a luminance-only transfer, and the result keeps the content's
 * colours exactly; without the match, a dark painting's luminance would darken the photo.
 */
function styleImages(
  styles: DecodedInputs['styles'],
  content: RgbImage,
  options: Pick<StylizeOptions, 'colorMatch'>,
): DecodedInputs['styles'] {
  if (!options.colorMatch) return styles;
  return styles.map((style) => ({ ...style, image: matchColours(style.image, content) }));
}

/** A style mask's pixels, transparency flattened onto black (uncovered). */
async function decodeMask(source: ImageSource, maxPixels: number | undefined): Promise<RgbImage> {
  const name = `${source.name} (style mask)`;
  return (await decodeImage(source.data, { name, maxPixels, alpha: 'flatten', background: '#000000' })).image;
}

/**
 * A decoded mask stretched to the result's size, as 0..1 coverage: its luminance (BT.601) over 255, so
 * a greyscale mask reads as it looks and a colour one by its brightness.
 */
async function maskAt(mask: RgbImage, width: number, height: number): Promise<MaskImage> {
  const grey = luminanceOnly(await resizeImage(mask, width, height)).data;
  const data = Float32Array.from({ length: width * height }, (_, i) =>
    Math.min(1, Math.max(0, grey[i * 3] / 255)),
  );
  return { width, height, data };
}

/** The content's alpha channel at the result's size. */
async function resizeAlpha(decoded: DecodedImage, width: number, height: number): Promise<Float32Array> {
  const alpha = decoded.alpha!;
  const grey: RgbImage = {
    width: decoded.width,
    height: decoded.height,
    data: Float32Array.from({ length: alpha.length * 3 }, (_, i) => alpha[Math.floor(i / 3)]),
  };
  const resized = await resizeImage(grey, width, height);
  return Float32Array.from({ length: width * height }, (_, i) => resized.data[i * 3]);
}
