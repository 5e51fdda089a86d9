import { describe, expect, it } from 'vitest';
import { contactSheet, LABEL_HEIGHT } from '../../../src/image/contact-sheet.js';
import { decodeImage } from '../../../src/image/decode.js';
import { pixelAt, solid } from '../../helpers/images.js';

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
