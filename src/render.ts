/**
 * render(): image bytes in, encoded stylised image out. The one composition of image I/O and the engine,
 * shared by the CLI, the job runner (Lambda, Batch, local) and the example: decode and validate every
 * input first (so a bad style fails before minutes of work), resize the content with a high-quality
 * filter, run stylize(), encode. Writes nothing: callers decide where bytes go.
 */
import type { StylizeOptions } from './engine/options.js';
import { type StylizeContext, type StylizeResult, stylize } from './engine/stylize.js';
import type { RgbImage } from './engine/types.js';
import { NstError } from './errors.js';
import { transferLuminance } from './image/colour.js';
import { type DecodedImage, decodeImage } from './image/decode.js';
import { encodeImage } from './image/encode.js';
import type { OutputFormat } from './image/formats.js';
import { fitLongestSide, resizeImage } from './image/resize.js';

/** An image given as a file path or its bytes; `name` is what error messages call it. */
export interface ImageSource {
  readonly data: string | Buffer | Uint8Array;
  readonly name: string;
}

export interface RenderInput {
  readonly content: ImageSource;
  readonly styles: readonly { readonly source: ImageSource; readonly weight: number }[];
  readonly initImage?: ImageSource;
}

export interface OutputSettings {
  readonly format: OutputFormat;
  readonly quality?: number;
  /** Carry the content's alpha channel into the result (formats with alpha only). */
  readonly keepAlpha?: boolean;
  readonly maxPixels?: number;
}

/** What render() needs besides its inputs: the same as stylize()'s context. */
export type RenderContext = StylizeContext;

export interface RenderResult {
  readonly output: Buffer;
  readonly result: StylizeResult;
  /** The content as the engine saw it (resized), for contact sheets. */
  readonly content: RgbImage;
}

export interface DecodedInputs {
  readonly content: DecodedImage;
  readonly styles: readonly { readonly image: RgbImage; readonly weight: number }[];
  readonly initImage?: RgbImage;
}

/** Decodes and validates every input image; throws the first input error. */
export async function decodeInputs(input: RenderInput, output: OutputSettings): Promise<DecodedInputs> {
  const decode = (source: ImageSource, alpha: 'keep' | 'flatten') =>
    decodeImage(source.data, { name: source.name, maxPixels: output.maxPixels, alpha });
  // JPEG has no alpha: flatten like any other run rather than keep a plane the encoder would drop.
  const keepAlpha = output.keepAlpha && output.format !== 'jpeg';
  const content = await decode(input.content, keepAlpha ? 'keep' : 'flatten');
  const styles = [];
  for (const style of input.styles)
    styles.push({ image: (await decode(style.source, 'flatten')).image, weight: style.weight });
  const initImage = input.initImage ? (await decode(input.initImage, 'flatten')).image : undefined;
  return { content, styles, initImage };
}

export async function render(
  input: RenderInput,
  options: StylizeOptions,
  output: OutputSettings,
  context: RenderContext,
): Promise<RenderResult> {
  if (input.styles.length === 0) throw new NstError('INVALID_OPTION', 'at least one style image is required');
  const decoded = await decodeInputs(input, output);
  const size = fitLongestSide(decoded.content.width, decoded.content.height, options.size);
  const content = await resizeImage(decoded.content.image, size.width, size.height);
  const stylized = await stylize(
    { content, styles: decoded.styles, initImage: decoded.initImage },
    options,
    context,
  );
  const image = options.originalColors ? transferLuminance(stylized.image, content) : stylized.image;
  const result = { ...stylized, image };
  const alpha = decoded.content.alpha
    ? await resizeAlpha(decoded.content, size.width, size.height)
    : undefined;
  const encoded = await encodeImage(result.image, { format: output.format, quality: output.quality, alpha });
  return { output: encoded, result, content };
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
