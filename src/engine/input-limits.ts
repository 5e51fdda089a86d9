/**
 * What stylize() accepts: the limits on its images (aspect ratio, resampled style size) and the checks of
 * its inputs, all made before any engine is built so a bad input fails before minutes of work.
 */
import { NstError } from '../errors.js';
import { MAX_SIZE, type StylizeOptions } from './options.js';
import { resampledStyleSize } from './resample.js';
import type { Scale } from './schedule.js';
import type { StylizeInput } from './stylize.js';

/**
 * The most elongated image accepted, long side : short side (checked from the header when decoding, and
 * again here for callers that pass pixels). A style is resampled so its short side is never under
 * MIN_IMAGE_SIDE, so its long side grows with its aspect ratio: a 637-byte 20000x2 PNG became 160000x16
 * pixels through VGG-19 at every scale (3.4 GB instead of 1.3 GB for a 64 px job). At 32:1 that floor costs
 * at most 512x16 pixels; panoramas are rarely past 10:1.
 */
export const MAX_ASPECT_RATIO = 32;

/**
 * The most pixels a style is resampled to: those of the largest result (MAX_SIZE squared), so styleScale
 * above 1 cannot make a style bigger than any job may be.
 */
export const MAX_STYLE_PIXELS = MAX_SIZE * MAX_SIZE;

/** Refuses an image more elongated than MAX_ASPECT_RATIO; `what` names it. */
export function checkAspectRatio(what: string, { width, height }: { width: number; height: number }): void {
  const ratio = Math.max(width, height) / Math.max(1, Math.min(width, height));
  if (ratio <= MAX_ASPECT_RATIO) return;
  throw new NstError(
    'IMAGE_TOO_LARGE',
    `${what} is ${width}x${height}, an aspect ratio of ${Math.round(ratio * 10) / 10}:1, over the limit of ` +
      `${MAX_ASPECT_RATIO}:1: crop it first`,
  );
}

/** Checks a run's inputs against its scales; styles at the largest scale, where they are biggest. */
export function checkInput(input: StylizeInput, options: StylizeOptions, scales: readonly Scale[]): void {
  if (input.styles.length === 0) throw new NstError('INVALID_OPTION', 'at least one style image is required');
  if (options.init === 'image' && !input.initImage) {
    throw new NstError('INVALID_OPTION', "init 'image' needs an initial image");
  }
  const last = scales.at(-1);
  input.styles.forEach(({ image, mask }, i) => {
    const what = `style image ${i + 1}`;
    if (mask && (mask.width !== input.content.width || mask.height !== input.content.height)) {
      throw new NstError(
        'INVALID_OPTION',
        `the mask of ${what} is ${mask.width}x${mask.height}; it must be at the content's size, ` +
          `${input.content.width}x${input.content.height}`,
      );
    }
    if (mask?.data.every((v) => v <= 0)) {
      throw new NstError(
        'INVALID_OPTION',
        `the mask of ${what} is all black: it covers no pixel, so the style would do nothing (whiten where it applies)`,
      );
    }
    checkAspectRatio(what, image);
    if (!last) return;
    const { width, height } = styleSizeAt(image, last, options);
    if (width * height <= MAX_STYLE_PIXELS) return;
    const mp = (n: number) => `${(n / 1e6).toFixed(1)} megapixels`;
    throw new NstError(
      'INVALID_OPTION',
      `${what} (${image.width}x${image.height}) would be resampled to ${width}x${height} (${mp(width * height)}) ` +
        `at styleScale ${options.styleScale}, over the limit of ${mp(MAX_STYLE_PIXELS)}: lower styleScale or size`,
    );
  });
}

/**
 * The size a style is resampled to at a scale: its longest side styleScale x the scale's, its shorter side
 * never under MIN_IMAGE_SIDE (bounded by MAX_ASPECT_RATIO, checked first). The driver resamples styles to it.
 */
export function styleSizeAt(
  image: { width: number; height: number },
  scale: Scale,
  options: Pick<StylizeOptions, 'styleScale'>,
): { width: number; height: number } {
  return resampledStyleSize(image, Math.max(scale.width, scale.height), options.styleScale);
}
