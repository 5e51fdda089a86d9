/**
 * A contact sheet: panels side by side at one height on a white background, for comparing results.
 * Labels are drawn by sharp's text renderer (Pango + fontconfig). Where no fonts are installed (a
 * bare Lambda image) Pango still renders, but glyphs may show as boxes; the layout is the same.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { RgbImage } from '../engine/types.js';
import { toUint8 } from './encode.js';
import { resizeImage } from './resize.js';

export interface Panel {
  readonly image: RgbImage;
  readonly label?: string;
}

export interface ContactSheetOptions {
  /** Height of every panel in pixels (default 256). */
  readonly height?: number;
  /** Space between panels and around the edge in pixels (default 8). */
  readonly gap?: number;
}

/** Height of the strip under the panels that holds the labels, when any panel has one. */
export const LABEL_HEIGHT = 20;
const FONT = 'sans 10';

const escapeMarkup = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The label as a black-on-transparent PNG no larger than width x height (shrunk to fit if long). */
async function renderLabel(label: string, width: number, height: number): Promise<Buffer> {
  const text = `<span foreground="#000000">${escapeMarkup(label)}</span>`;
  const render = (fit: boolean) =>
    sharp({ text: { text, font: FONT, rgba: true, ...(fit ? { width, height } : {}) } })
      .png()
      .toBuffer({ resolveWithObject: true });
  const first = await render(false);
  if (first.info.width <= width && first.info.height <= height) return first.data;
  const fitted = await render(true);
  // Autofit can still overshoot by a pixel; crop rather than let composite refuse it.
  return sharp(fitted.data)
    .extract({
      left: 0,
      top: 0,
      width: Math.min(width, fitted.info.width),
      height: Math.min(height, fitted.info.height),
    })
    .png()
    .toBuffer();
}

/** Returns the sheet as a PNG. */
export async function contactSheet(
  panels: readonly Panel[],
  opts: ContactSheetOptions = {},
): Promise<Buffer> {
  const height = opts.height ?? 256;
  const gap = opts.gap ?? 8;
  if (panels.length === 0) throw new RangeError('a contact sheet needs at least one panel');
  if (!Number.isInteger(height) || height < 1)
    throw new RangeError(`height must be a positive integer, got ${height}`);
  if (!Number.isInteger(gap) || gap < 0)
    throw new RangeError(`gap must be a non-negative integer, got ${gap}`);

  const labelled = panels.some((p) => p.label);
  const labelStrip = labelled ? LABEL_HEIGHT : 0;
  const layers: OverlayOptions[] = [];
  let left = gap;
  for (const panel of panels) {
    const width = Math.max(1, Math.round((panel.image.width * height) / panel.image.height));
    const scaled = await resizeImage(panel.image, width, height);
    layers.push({ input: Buffer.from(toUint8(scaled)), raw: { width, height, channels: 3 }, left, top: gap });
    if (panel.label) {
      const input = await renderLabel(panel.label, width, labelStrip - 4);
      layers.push({ input, left, top: gap + height + 2 });
    }
    left += width + gap;
  }
  return sharp({
    create: { width: left, height: height + labelStrip + 2 * gap, channels: 3, background: '#ffffff' },
  })
    .composite(layers)
    .png()
    .toBuffer();
}
