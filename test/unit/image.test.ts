import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/engine/types.js';
import type { ErrorCode } from '../../src/errors.js';
import {
  contactSheet,
  DEFAULT_MAX_PIXELS,
  decodeImage,
  encodeImage,
  fitLongestSide,
  LABEL_HEIGHT,
  luminanceOnly,
  outputFormatFromPath,
  readImageMetadata,
  resizeImage,
  transferLuminance,
  writeFileAtomic,
} from '../../src/image/index.js';
import { meanAbsDiff, photoLike, pixelAt, sharpOf, solid, tempDir } from '../helpers/images.js';

const SEATED_NUDE = '/work/shared/images/style/seated-nude.jpg';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('nst-image'));
});
afterAll(() => cleanup());

/** Expects the promise to reject with an NstError of `code` whose message contains `mentions`. */
async function expectCode(promise: Promise<unknown>, code: ErrorCode, mentions: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ name: 'NstError', code });
  expect((error as Error).message).toContain(mentions);
}

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

describe('encode', () => {
  const source = photoLike(40, 30, 7);
  const extensions = [
    ['out.jpg', 'jpeg'],
    ['OUT.JPEG', 'jpeg'],
    ['a/b/out.png', 'png'],
    ['out.webp', 'webp'],
    ['out.avif', 'avif'],
    ['out.tif', 'tiff'],
    ['out.TIFF', 'tiff'],
  ] as const;
  for (const [name, format] of extensions) {
    it(`round-trips ${name} as ${format}`, async () => {
      expect(outputFormatFromPath(name)).toBe(format);
      const path = join(dir, 'encode', name);
      await writeFileAtomic(path, await encodeImage(source, { format }));
      const decoded = await decodeImage(path);
      expect([decoded.format, decoded.width, decoded.height]).toEqual([format, 40, 30]);
      const lossless = format === 'png' || format === 'tiff';
      expect(meanAbsDiff(decoded.image.data, source.data)).toBeLessThanOrEqual(lossless ? 0 : 8);
    });
  }

  it('refuses unsupported extensions, listing the supported ones', () => {
    for (const path of ['out.gif', 'out.bmp', 'out', 'dir.png/out']) {
      expect(() => outputFormatFromPath(path)).toThrow(
        expect.objectContaining({ code: 'OUTPUT_FORMAT_UNSUPPORTED' }),
      );
      expect(() => outputFormatFromPath(path)).toThrow(/\.jpg, \.jpeg, \.png, \.webp, \.avif, \.tif, \.tiff/);
    }
  });

  it('rounds and clamps values to 0..255', async () => {
    const image = {
      width: 4,
      height: 1,
      data: Float32Array.from([-5, 300.4, 12.6, 0.4, 254.6, 99.5, 1, 2, 3, 4, 5, 6]),
    };
    const { data } = await sharp(await encodeImage(image, { format: 'png' }))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(Array.from(data)).toEqual([0, 255, 13, 0, 255, 100, 1, 2, 3, 4, 5, 6]);
  });

  it('attaches alpha where the format has it and ignores it for JPEG', async () => {
    const alpha = Float32Array.from({ length: 40 * 30 }, (_, p) => (p % 40 < 20 ? 0 : 255));
    for (const format of ['png', 'webp', 'tiff'] as const) {
      const decoded = await decodeImage(await encodeImage(source, { format, alpha }), { alpha: 'keep' });
      expect([decoded.alpha?.[0], decoded.alpha?.[39]]).toEqual([0, 255]);
    }
    const jpeg = await encodeImage(source, { format: 'jpeg', alpha });
    expect((await sharp(jpeg).metadata()).hasAlpha).toBe(false);
  });

  it('validates quality', async () => {
    await expectCode(encodeImage(source, { format: 'jpeg', quality: 0 }), 'INVALID_OPTION', 'quality');
    await expectCode(encodeImage(source, { format: 'webp', quality: 101 }), 'INVALID_OPTION', 'quality');
    const small = await encodeImage(source, { format: 'jpeg', quality: 10 });
    expect(small.length).toBeLessThan((await encodeImage(source, { format: 'jpeg' })).length);
  });
});

describe('writeFileAtomic', () => {
  it('creates parent directories and replaces an existing file', async () => {
    const path = join(dir, 'atomic', 'x', 'y', 'file.txt');
    await writeFileAtomic(path, 'first');
    await writeFileAtomic(path, Buffer.from('second'));
    expect(await readFile(path, 'utf8')).toBe('second');
    expect(await readdir(join(dir, 'atomic', 'x', 'y'))).toEqual(['file.txt']);
  });

  it('leaves nothing behind when the rename fails', async () => {
    const parent = join(dir, 'atomic-fail');
    const target = join(parent, 'taken');
    await writeFileAtomic(join(target, 'inner.txt'), 'keep me');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readdir(parent)).toEqual(['taken']);
    expect(await readFile(join(target, 'inner.txt'), 'utf8')).toBe('keep me');
  });
});

describe('resize', () => {
  it('shrinks with the mean colour kept', async () => {
    const source = photoLike(64, 48);
    const small = await resizeImage(source, 32, 24);
    expect([small.width, small.height, small.data.length]).toEqual([32, 24, 32 * 24 * 3]);
    const [a, b] = [meanRgb(source), meanRgb(small)];
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThan(1.5);
    expect(Math.min(...small.data)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...small.data)).toBeLessThanOrEqual(255);
  });

  it('enlarges smoothly', async () => {
    const big = await resizeImage(photoLike(16, 12), 48, 37);
    expect([big.width, big.height, big.data.length]).toEqual([48, 37, 48 * 37 * 3]);
    const [a, b] = [meanRgb(photoLike(16, 12)), meanRgb(big)];
    for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThan(3);
  });

  it('keeps sub-8-bit precision (16-bit path)', async () => {
    const colour: [number, number, number] = [100.3, 0.25, 254.7];
    const up = await resizeImage(solid(20, 20, colour), 27, 29);
    for (let i = 0; i < up.data.length; i++) expect(Math.abs(up.data[i] - colour[i % 3])).toBeLessThan(0.005);
    // Shrinking: libvips's fixed-point Lanczos weights shift flat areas by up to 0.2%.
    const down = await resizeImage(solid(20, 20, colour), 7, 9);
    for (let i = 0; i < down.data.length; i++)
      expect(Math.abs(down.data[i] - colour[i % 3])).toBeLessThan(0.5);
  });

  it('returns a copy at the same size and rejects bad sizes', async () => {
    const source = photoLike(8, 8);
    const same = await resizeImage(source, 8, 8);
    expect(same.data).toEqual(source.data);
    expect(same.data).not.toBe(source.data);
    await expect(resizeImage(source, 0, 4)).rejects.toThrow(RangeError);
    await expect(resizeImage(source, 4.5, 4)).rejects.toThrow(RangeError);
  });

  it('fits the longest side', () => {
    expect(fitLongestSide(1024, 768, 512)).toEqual({ width: 512, height: 384 });
    expect(fitLongestSide(768, 1024, 512)).toEqual({ width: 384, height: 512 });
    expect(fitLongestSide(300, 200, 600)).toEqual({ width: 600, height: 400 });
    expect(fitLongestSide(300, 200, 600, false)).toEqual({ width: 300, height: 200 });
    expect(fitLongestSide(3000, 2, 100)).toEqual({ width: 100, height: 1 });
    expect(() => fitLongestSide(100, 100, 0)).toThrow(RangeError);
  });
});

describe('colour', () => {
  // Independent reference: the JPEG (full-range BT.601) YCbCr matrix.
  const ycbcr = ([r, g, b]: number[]) => [
    0.299 * r + 0.587 * g + 0.114 * b,
    128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
    128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
  ];
  const content = { width: 3, height: 1, data: Float32Array.from([200, 80, 60, 40, 120, 90, 128, 128, 128]) };
  const styled = { width: 3, height: 1, data: Float32Array.from([90, 100, 180, 150, 140, 160, 30, 200, 90]) };

  it('takes luminance from the styled image and chroma from the content', () => {
    const out = transferLuminance(styled, content);
    for (let p = 0; p < 3; p++) {
      const [y, cb, cr] = ycbcr(Array.from(out.data.subarray(p * 3, p * 3 + 3)));
      const [ys] = ycbcr(Array.from(styled.data.subarray(p * 3, p * 3 + 3)));
      const [, cbc, crc] = ycbcr(Array.from(content.data.subarray(p * 3, p * 3 + 3)));
      expect(y).toBeCloseTo(ys, 3);
      expect(cb).toBeCloseTo(cbc, 3);
      expect(cr).toBeCloseTo(crc, 3);
    }
  });

  it('requires images of the same size', () => {
    expect(() => transferLuminance(styled, photoLike(2, 2))).toThrow(RangeError);
  });

  it('replicates luminance in three channels', () => {
    const grey = luminanceOnly(content);
    for (let p = 0; p < 3; p++) {
      const [y] = ycbcr(Array.from(content.data.subarray(p * 3, p * 3 + 3)));
      expect(Array.from(grey.data.subarray(p * 3, p * 3 + 3)).map((v) => v.toFixed(3))).toEqual(
        Array(3).fill(y.toFixed(3)),
      );
    }
  });
});

describe('contactSheet', () => {
  const red = solid(64, 48, [255, 0, 0]);
  const blue = solid(30, 60, [0, 0, 255]);

  it('places panels side by side at one height', async () => {
    const png = await contactSheet([{ image: red }, { image: blue }], { height: 100, gap: 8 });
    const decoded = await decodeImage(png);
    // widths 64*100/48 = 133 and 30*100/60 = 50, gaps around and between
    expect([decoded.width, decoded.height]).toEqual([8 + 133 + 8 + 50 + 8, 100 + 16]);
    expect(pixelAt(decoded.image, 8 + 66, 58)).toEqual([255, 0, 0]);
    expect(pixelAt(decoded.image, 8 + 133 + 8 + 25, 58)).toEqual([0, 0, 255]);
    expect(pixelAt(decoded.image, 8 + 133 + 4, 58)).toEqual([255, 255, 255]);
  });

  it('draws labels in a strip under the panels', async () => {
    const png = await contactSheet([
      { image: red, label: 'content <1>' },
      { image: blue, label: 'styled & done' },
    ]);
    const { image } = await decodeImage(png);
    expect(image.height).toBe(256 + LABEL_HEIGHT + 16);
    let dark = 0;
    for (let y = 8 + 256; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) if (pixelAt(image, x, y)[0] < 128) dark++;
    }
    expect(dark).toBeGreaterThan(20);
  });

  it('rejects an empty sheet', async () => {
    await expect(contactSheet([])).rejects.toThrow(RangeError);
  });
});
