import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/image/decode.js';
import { encodeImage, outputFormatFromPath, writeFileAtomic } from '../../../src/image/encode.js';
import { meanAbsDiff, photoLike, tempDir } from '../../helpers/images.js';
import { expectCode } from '../../helpers/thrown.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('nst-image'));
});
afterAll(() => cleanup());

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
