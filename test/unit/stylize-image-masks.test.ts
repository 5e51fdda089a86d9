/** stylizeImage() with style masks: how a mask file becomes the coverage the engine gets. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS } from '../../src/engine/options.js';
import type { EngineSpec } from '../../src/engine/types.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { stylizeImage } from '../../src/stylize-image.js';
import { photoLike, sharpOf } from '../helpers/images.js';

const weights = generateVggWeights(2);

/** The engine spec stylizeImage() builds for these inputs (one scale), captured before anything runs. */
async function specFor(maskPng: Buffer): Promise<EngineSpec> {
  const content = await sharpOf(photoLike(48, 32, 1))
    .png()
    .toBuffer();
  const style = await sharpOf(photoLike(40, 40, 2))
    .png()
    .toBuffer();
  let captured: EngineSpec | undefined;
  const stop = new Error('captured');
  const run = stylizeImage(
    {
      content: { data: content, name: 'content.png' },
      styles: [
        { source: { data: style, name: 'a.png' }, weight: 1, mask: { data: maskPng, name: 'mask.png' } },
        { source: { data: style, name: 'b.png' }, weight: 1 },
      ],
    },
    { ...DEFAULT_STYLIZE_OPTIONS, size: 48, minSize: 48, iterations: 1 },
    { format: 'png' },
    {
      weights,
      createEngine: async (_choice, spec) => {
        captured = spec;
        throw stop;
      },
    },
  );
  // Only the capture may stop the run; an input error is the test's answer.
  await run.then(
    () => expect.unreachable('the capturing engine stops the run'),
    (e: unknown) => {
      if (e !== stop) throw e;
    },
  );
  return captured!;
}

describe('stylizeImage with a style mask', () => {
  it('stretches the mask to the content, reads colour by luminance and transparency as black', async () => {
    // 4x2 RGBA: top row white, red (luma 0.299), grey 128, transparent white; bottom row black.
    const pixels = Buffer.from([
      ...[255, 255, 255, 255, 255, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 0],
      ...Array.from({ length: 4 }, () => [0, 0, 0, 255]).flat(),
    ]);
    const png = await sharp(pixels, { raw: { width: 4, height: 2, channels: 4 } })
      .png()
      .toBuffer();
    const spec = await specFor(png);
    const mask = spec.styles[0].mask!;
    expect([mask.width, mask.height]).toEqual([48, 32]);
    expect(spec.styles[1].mask).toBeUndefined();
    // Sample the middle of each source pixel's 12x16 block, away from the resampling's blur.
    const at = (col: number, row: number) => mask.data[(row * 16 + 8) * 48 + col * 12 + 6];
    expect(at(0, 0)).toBeCloseTo(1, 2);
    expect(at(1, 0)).toBeCloseTo(0.299, 1);
    expect(at(2, 0)).toBeCloseTo(128 / 255, 1);
    expect(at(3, 0)).toBeCloseTo(0, 1);
    for (let col = 0; col < 4; col++) expect(at(col, 1)).toBeCloseTo(0, 1);
  });

  it('refuses a mask that is not an image with the input error that names it', async () => {
    await expect(specFor(Buffer.from('not an image at all'))).rejects.toMatchObject({
      code: 'IMAGE_UNSUPPORTED',
      message: expect.stringContaining('mask.png (style mask)'),
    });
  });
});
