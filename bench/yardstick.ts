/**
 * The style yardstick (issue 21): how close a result's style statistics are to the painting's, in a form
 * that survives resampling, and how much of the photo it keeps.
 *
 * - Style score: per style layer l (relu1_1..relu5_1), sum((G_x/M_x - G_s/M_s)^2) / (4 N_l^2), where G = F^T F
 *   is the Gram of the layer's features (N_l channels, M positions) of the result x and of the painting s;
 *   the score is the mean of the five terms. VGG-19 with average pooling and the real weights. Lower is
 *   more like the painting.
 * - SSIM of luminance (Wang et al. 2004: an 11 px Gaussian window, ssim.js's 'original' without its automatic
 *   downsampling), the result at its own size against the photo resized to it: the strokes, at the size a
 *   user sees them, are what lower it.
 *
 * For the style score, the result and the painting are both resized by the same filter to the same longest
 * side (256 px) first. Why: a result is usually smaller than its painting, and resizing the painting alone from
 * its own size to the result's swings relu4_1's term 40x between a Lanczos and a bilinear filter (measured
 * in issue 21), enough to flip which of two results looks more stylised. Resized alike, two results keep
 * their order across filters and sides (test/bench/yardstick.test.ts).
 */

import { Tensor } from 'onnxruntime-node';
import sharp, { type KernelEnum } from 'sharp';
import { ssim } from 'ssim.js';
import { prepareKernels } from '../src/engine/onnx/kernels.js';
import { createSession, type OnnxSession } from '../src/engine/onnx/session.js';
import { buildFeaturesModel, IO } from '../src/engine/onnx/vgg-graph.js';
import { gridOf } from '../src/engine/shapes.js';
import { defaultThreads } from '../src/engine/threads.js';
import type { RgbImage } from '../src/engine/types.js';
import { STYLE_LAYERS, toNetworkInput } from '../src/engine/vgg.js';
import { loadWeights } from '../src/weights/store.js';

/** The longest side every image is resized to before it is measured. */
export const YARDSTICK_SIDE = 256;

/** sharp's resampling filters. */
export type ResizeKernel = keyof KernelEnum;

export interface YardstickSettings {
  /** Longest side the images are resized to (default YARDSTICK_SIDE). */
  readonly side?: number;
  /** The filter that resizes all of them (default lanczos3). */
  readonly kernel?: ResizeKernel;
  /** onnxruntime threads (default: all cores). */
  readonly threads?: number;
}

/** An image file, or one already decoded (0..255 RGB). */
export type YardstickImage = string | Buffer | RgbImage;

export interface StyleScore {
  /** The mean of the per-layer terms. */
  readonly score: number;
  /** relu1_1 .. relu5_1. */
  readonly layers: readonly number[];
}

export interface Measurement {
  readonly style: StyleScore;
  /** Luminance SSIM against the photo, -1..1 (1: the photo itself). */
  readonly ssim: number;
}

/**
 * Scores results against a painting and a photo. The one made by create() holds an onnxruntime session:
 * dispose() it; those made from it by withResizing() share it.
 */
export class Yardstick {
  private constructor(
    private readonly session: OnnxSession['session'],
    private readonly side: number,
    private readonly kernel: ResizeKernel,
    private readonly ownsSession: boolean,
  ) {}

  static async create(weightsDir: string, settings: YardstickSettings = {}): Promise<Yardstick> {
    const kernels = prepareKernels(await loadWeights(weightsDir));
    const model = buildFeaturesModel(kernels, 'avg');
    const { session } = await createSession(model, { threads: settings.threads ?? defaultThreads() });
    return new Yardstick(session, settings.side ?? YARDSTICK_SIDE, settings.kernel ?? 'lanczos3', true);
  }

  /** The same network, resizing to another side or with another filter. */
  withResizing(resizing: Pick<YardstickSettings, 'side' | 'kernel'>): Yardstick {
    return new Yardstick(this.session, resizing.side ?? this.side, resizing.kernel ?? this.kernel, false);
  }

  /** The style score of `result` against `painting` and its SSIM against `photo`. */
  async measure(
    result: YardstickImage,
    painting: YardstickImage,
    photo: YardstickImage,
  ): Promise<Measurement> {
    const style = await this.styleScore(await this.resize(result), await this.resize(painting));
    const asIs = await this.load(result);
    const photoAsResult = await this.load(photo, { width: asIs.width, height: asIs.height, fit: 'fill' });
    return { style, ssim: luminanceSsim(asIs, photoAsResult) };
  }

  /** The style score of two images already resized alike. */
  async styleScore(x: RgbImage, painting: RgbImage): Promise<StyleScore> {
    const [gx, gs] = [await this.normalisedGrams(x), await this.normalisedGrams(painting)];
    const layers = gx.map((g, l) => gramDistance(g, gs[l]));
    return { score: layers.reduce((a, b) => a + b, 0) / layers.length, layers };
  }

  /** Resized to the yardstick's longest side. */
  resize(image: YardstickImage): Promise<RgbImage> {
    return this.load(image, { width: this.side, height: this.side, fit: 'inside' });
  }

  /** Decoded, and resized into the box with the yardstick's filter when one is given. */
  private async load(
    image: YardstickImage,
    box?: { width: number; height: number; fit: 'inside' | 'fill' },
  ): Promise<RgbImage> {
    const source =
      typeof image === 'string' || Buffer.isBuffer(image)
        ? sharp(image).rotate()
        : sharp(
            Uint8Array.from(image.data, (v) => Math.round(Math.min(255, Math.max(0, v)))),
            {
              raw: { width: image.width, height: image.height, channels: 3 },
            },
          );
    const srgb = source.removeAlpha().toColourspace('srgb');
    // fastShrinkOnLoad off: JPEG shrink-on-load would resample with libjpeg's DCT scaling, not `kernel`.
    const resized = box
      ? srgb.resize(box.width, box.height, { fit: box.fit, kernel: this.kernel, fastShrinkOnLoad: false })
      : srgb;
    const { data, info } = await resized.raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: Float32Array.from(data) };
  }

  /** G_l / M_l for relu1_1..relu5_1. */
  private async normalisedGrams(image: RgbImage): Promise<Float32Array[]> {
    const input = new Tensor('float32', toNetworkInput(image), [1, image.height, image.width, 3]);
    const out = await this.session.run({ [IO.image]: input });
    return STYLE_LAYERS.map((layer, l) => {
      const grid = gridOf(layer, image.width, image.height);
      const positions = grid.width * grid.height;
      return Float32Array.from(out[IO.gram(l)].data as Float32Array, (v) => v / positions);
    });
  }

  dispose(): void {
    if (this.ownsSession) void this.session.release();
  }
}

/** sum((a - b)^2) / (4 N^2) for two N x N matrices. */
export function gramDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return sum / (4 * a.length);
}

/** Luminance SSIM of two images of one size. */
export function luminanceSsim(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(
      `SSIM needs images of one size, got ${a.width}x${a.height} and ${b.width}x${b.height}`,
    );
  }
  return ssim(rgba(a), rgba(b), {
    ssim: 'original',
    rgb2grayVersion: 'original',
    downsample: false,
  }).mssim;
}

/** ssim.js reads RGBA (its ImageData) and takes the luminance itself. */
function rgba(image: RgbImage): { data: Uint8ClampedArray; width: number; height: number } {
  const data = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0; p < image.width * image.height; p++) {
    data.set(image.data.subarray(p * 3, p * 3 + 3), p * 4);
    data[p * 4 + 3] = 255;
  }
  return { data, width: image.width, height: image.height };
}
