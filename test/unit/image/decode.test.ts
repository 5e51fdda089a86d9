import { readdir, readFile, writeFile } from 'node:fs/promises';
import path, { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/engine/types.js';
import { DEFAULT_MAX_PIXELS, decodeImage, readImageMetadata } from '../../../src/image/decode.js';
import { meanAbsDiff, photoLike, pixelAt, sharpOf, solid, tempDir } from '../../helpers/images.js';
import { SHARED_IMAGES } from '../../helpers/shared.js';
import { expectCode } from '../../helpers/thrown.js';

const SEATED_NUDE = path.join(SHARED_IMAGES, 'style/seated-nude.jpg');

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('nst-image'));
});
afterAll(() => cleanup());

/** The mean colour of an image. */
function meanRgb(image: RgbImage): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < image.data.length; i++) sum[i % 3] += image.data[i];
  const n = image.width * image.height;
  return [sum[0] / n, sum[1] / n, sum[2] / n];
}

describe('decodeImage: formats', () => {
  const source = photoLike(64, 48);
  const cases = [
    { format: 'jpeg', write: () => sharpOf(source).jpeg({ quality: 95 }), tolerance: 8 },
    { format: 'png', write: () => sharpOf(source).png(), tolerance: 0 },
    { format: 'webp', write: () => sharpOf(source).webp({ quality: 95 }), tolerance: 8 },
    { format: 'avif', write: () => sharpOf(source).avif({ quality: 90 }), tolerance: 8 },
    { format: 'tiff', write: () => sharpOf(source).tiff({ compression: 'lzw' }), tolerance: 0 },
  ];
  for (const { format, write, tolerance } of cases) {
    it(`reads ${format}`, async () => {
      const path = join(dir, `in.${format}`);
      await write().toFile(path);
      const decoded = await decodeImage(path);
      expect(decoded.format).toBe(format);
      expect([decoded.width, decoded.height, decoded.image.width, decoded.image.height]).toEqual([
        64, 48, 64, 48,
      ]);
      expect(decoded.image.data).toBeInstanceOf(Float32Array);
      expect(decoded.alpha).toBeUndefined();
      expect(meanAbsDiff(decoded.image.data, source.data)).toBeLessThanOrEqual(tolerance);
      // Exactly what sharp itself decodes: no extra processing on the way.
      const reference = await sharp(path).toColourspace('srgb').raw().toBuffer();
      expect(decoded.image.data).toEqual(Float32Array.from(reference));
      expect(await readImageMetadata(path)).toEqual({ width: 64, height: 48, format });
    });
  }

  it('reads the first frame of an animated GIF', async () => {
    const frames = [solid(24, 16, [255, 0, 0]), solid(24, 16, [0, 255, 0]), solid(24, 16, [0, 0, 255])];
    const stacked = new Uint8Array(frames.flatMap((f) => Array.from(f.data)));
    const gif = await sharp(stacked, { raw: { width: 24, height: 48, channels: 3, pageHeight: 16 } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(3);
    const decoded = await decodeImage(gif);
    expect(decoded.format).toBe('gif');
    expect([decoded.width, decoded.height]).toEqual([24, 16]);
    expect(meanRgb(decoded.image)).toEqual([255, 0, 0]);
  });
});

describe('decodeImage: orientation, colour spaces, depth, alpha', () => {
  it('applies EXIF orientation 6 (rotate 90 degrees clockwise)', async () => {
    // Stored 40x20: left half red, right half blue. Displayed: 20x40, red on top.
    const stored = new Float32Array(40 * 20 * 3);
    for (let p = 0; p < 40 * 20; p++) stored.set(p % 40 < 20 ? [255, 0, 0] : [0, 0, 255], p * 3);
    const jpeg = await sharpOf({ width: 40, height: 20, data: stored })
      .withMetadata({ orientation: 6 })
      .jpeg({ quality: 95 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    expect(await readImageMetadata(jpeg)).toEqual({ width: 20, height: 40, format: 'jpeg' });
    const { image } = await decodeImage(jpeg);
    expect([image.width, image.height]).toEqual([20, 40]);
    const top = pixelAt(image, 10, 5);
    const bottom = pixelAt(image, 10, 35);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(50);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(50);
  });

  it('gives seated-nude.jpg (EXIF orientation tag) the dimensions sharp reports after orientation', async () => {
    const meta = await sharp(SEATED_NUDE).metadata();
    expect(meta.orientation).toBeDefined();
    const decoded = await decodeImage(SEATED_NUDE);
    expect([decoded.width, decoded.height]).toEqual([meta.autoOrient.width, meta.autoOrient.height]);
    expect(decoded.image.data.length).toBe(meta.autoOrient.width * meta.autoOrient.height * 3);
    expect(await readImageMetadata(SEATED_NUDE)).toMatchObject({
      width: decoded.width,
      height: decoded.height,
    });
  });

  it('decodes every shared test photo and painting (real-world JPEGs pass the damage checks)', async () => {
    for (const folder of ['content', 'style']) {
      const base = `/work/shared/images/${folder}`;
      for (const file of (await readdir(base)).filter((f) => f.endsWith('.jpg'))) {
        const { autoOrient } = await sharp(join(base, file)).metadata();
        const decoded = await decodeImage(join(base, file));
        expect([decoded.format, decoded.width, decoded.height]).toEqual([
          'jpeg',
          autoOrient.width,
          autoOrient.height,
        ]);
      }
    }
  });

  it('turns greyscale into three equal channels', async () => {
    const png = await sharpOf(photoLike(32, 24)).toColourspace('b-w').png().toBuffer();
    expect((await sharp(png).metadata()).channels).toBe(1);
    const { image } = await decodeImage(png);
    expect(image.data.length).toBe(32 * 24 * 3);
    for (let i = 0; i < image.data.length; i += 3) {
      expect(image.data[i + 1]).toBe(image.data[i]);
      expect(image.data[i + 2]).toBe(image.data[i]);
    }
    expect(Math.max(...image.data) - Math.min(...image.data)).toBeGreaterThan(50);
  });

  it('converts a CMYK JPEG to sensible sRGB', async () => {
    // A colour inside the CMYK gamut, so the round trip through sharp's CMYK profile is near exact.
    const colour: [number, number, number] = [150, 110, 90];
    const jpeg = await sharpOf(solid(32, 32, colour))
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).space).toBe('cmyk');
    const { image } = await decodeImage(jpeg);
    const mean = meanRgb(image);
    for (let c = 0; c < 3; c++) expect(Math.abs(mean[c] - colour[c])).toBeLessThan(15);
  });

  it('converts 16-bit PNG to 8-bit values', async () => {
    const source = photoLike(16, 8);
    const wide = Uint16Array.from(source.data, (v) => v * 257);
    const png = await sharp(wide, { raw: { width: 16, height: 8, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const { image } = await decodeImage(png);
    expect(Math.max(...image.data)).toBeLessThanOrEqual(255);
    expect(meanAbsDiff(image.data, source.data)).toBeLessThanOrEqual(0.5);
  });

  describe('alpha', () => {
    // Left half fully transparent, right half opaque; colour (10, 20, 30) everywhere.
    let png: Buffer;
    beforeAll(async () => {
      const rgba = new Uint8Array(8 * 4 * 4);
      for (let p = 0; p < 32; p++) rgba.set([10, 20, 30, p % 8 < 4 ? 0 : 255], p * 4);
      png = await sharp(rgba, { raw: { width: 8, height: 4, channels: 4 } })
        .png()
        .toBuffer();
    });

    it('flattens onto white by default', async () => {
      const { image, alpha } = await decodeImage(png);
      expect(alpha).toBeUndefined();
      expect(pixelAt(image, 1, 1)).toEqual([255, 255, 255]);
      expect(pixelAt(image, 6, 1)).toEqual([10, 20, 30]);
    });

    it('flattens onto a chosen background', async () => {
      const { image } = await decodeImage(png, { background: '#000000' });
      expect(pixelAt(image, 1, 1)).toEqual([0, 0, 0]);
    });

    it('keeps alpha as a separate plane', async () => {
      const { image, alpha } = await decodeImage(png, { alpha: 'keep' });
      expect(pixelAt(image, 6, 1)).toEqual([10, 20, 30]);
      expect(alpha).toHaveLength(32);
      expect([alpha![1], alpha![6]]).toEqual([0, 255]);
    });

    it('returns no alpha plane for an opaque image', async () => {
      const jpeg = await sharpOf(photoLike(8, 8)).jpeg().toBuffer();
      expect((await decodeImage(jpeg, { alpha: 'keep' })).alpha).toBeUndefined();
    });

    it('rejects a background that is not a colour', async () => {
      await expectCode(decodeImage(png, { background: 'not-a-colour' }), 'INVALID_OPTION', 'not-a-colour');
    });
  });
});

describe('decodeImage: limits and bad input', () => {
  it('rejects images over maxPixels from the header', async () => {
    const png = await sharpOf(photoLike(64, 48)).png().toBuffer();
    await expectCode(
      decodeImage(png, { maxPixels: 1000, name: 'small.png' }),
      'IMAGE_TOO_LARGE',
      'small.png is 64x48',
    );
  });

  it('rejects an image more elongated than 32:1 from the header, and takes 32:1', async () => {
    // The style-image bomb: 637 bytes that the engine's resampling would make 160000x16.
    const bomb = await sharp({ create: { width: 20_000, height: 2, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    expect(bomb.length).toBeLessThan(2000);
    await expectCode(
      decodeImage(bomb, { name: 'styles/bomb.png' }),
      'IMAGE_TOO_LARGE',
      'styles/bomb.png is 20000x2, an aspect ratio of 10000:1, over the limit of 32:1',
    );
    // Checked before any pixel is decoded: the header alone gives the same answer.
    await expectCode(decodeImage(bomb.subarray(0, 100)), 'IMAGE_TOO_LARGE', '20000x2');
    const tall = await sharpOf(photoLike(2, 65)).png().toBuffer();
    await expectCode(decodeImage(tall), 'IMAGE_TOO_LARGE', '2x65, an aspect ratio of 32.5:1');
    const limit = await sharpOf(photoLike(64, 2)).png().toBuffer();
    expect((await decodeImage(limit)).image).toMatchObject({ width: 64, height: 2 });
  });

  it('rejects a 100-megapixel PNG at the default limit without decoding it', async () => {
    const path = join(dir, 'huge.png');
    await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: '#336699' } })
      .png()
      .toFile(path);
    expect(DEFAULT_MAX_PIXELS).toBeLessThan(100_000_000);
    expect(await readImageMetadata(path)).toEqual({ width: 10_000, height: 10_000, format: 'png' });
    await expectCode(decodeImage(path), 'IMAGE_TOO_LARGE', path);
    // Only the header survives: the limit is still reported, so it is checked before any pixel data.
    const headerOnly = (await readFile(path)).subarray(0, 200);
    await expectCode(decodeImage(headerOnly), 'IMAGE_TOO_LARGE', '10000x10000');
  });

  it('rejects zero-byte files and buffers', async () => {
    const path = join(dir, 'empty.jpg');
    await writeFile(path, '');
    await expectCode(decodeImage(path), 'IMAGE_EMPTY', path);
    await expectCode(decodeImage(Buffer.alloc(0)), 'IMAGE_EMPTY', 'input');
    await expectCode(readImageMetadata(new Uint8Array(0), { name: 'upload' }), 'IMAGE_EMPTY', 'upload');
  });

  it('reports a missing file', async () => {
    const path = join(dir, 'nope.jpg');
    await expectCode(decodeImage(path), 'IMAGE_NOT_FOUND', path);
    await expectCode(readImageMetadata(path), 'IMAGE_NOT_FOUND', path);
  });

  it('rejects text, random bytes and SVG as unsupported', async () => {
    const text = join(dir, 'notes.jpg');
    await writeFile(text, 'this is not an image\n');
    await expectCode(decodeImage(text), 'IMAGE_UNSUPPORTED', text);
    const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251);
    await expectCode(decodeImage(noise, { name: 'upload.bin' }), 'IMAGE_UNSUPPORTED', 'upload.bin');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expectCode(decodeImage(svg), 'IMAGE_UNSUPPORTED', 'svg');
  });

  it('rejects truncated JPEG and PNG as corrupt', async () => {
    const source = sharpOf(photoLike(128, 96));
    const jpeg = await source.clone().jpeg().toBuffer();
    const png = await source.clone().png().toBuffer();
    await expectCode(
      decodeImage(jpeg.subarray(0, jpeg.length >> 1), { name: 'cut.jpg' }),
      'IMAGE_CORRUPT',
      'cut.jpg',
    );
    await expectCode(
      decodeImage(png.subarray(0, png.length >> 1), { name: 'cut.png' }),
      'IMAGE_CORRUPT',
      'cut.png',
    );
  });
});
