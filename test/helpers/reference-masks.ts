/**
 * The spatial-control definitions of src/engine/losses.ts (regions, overlap normalisation, masks pooled to
 * each style layer, effective sizes) written again in float64 from the formulas, for the float64 references.
 */
import type { EngineSpec, MaskImage } from '../../src/engine/types.js';
import { STYLE_LAYERS } from '../../src/engine/vgg.js';

export interface ReferenceRegion {
  readonly styles: number[];
  /** b_s normalised within the region. */
  readonly blend: number[];
  /** m_{r,l} per style layer, row-major at that layer's grid; null: no masks at all (weight 1 everywhere). */
  readonly masks: (Float64Array | null)[];
  /** E_{r,l}: sum of squared mask values (M_l without masks). */
  readonly effective: number[];
}

const sameMask = (a?: MaskImage, b?: MaskImage) =>
  a === b || (a !== undefined && b !== undefined && a.data.every((v, i) => v === b.data[i]));

/** 2x2 average pooling, floor. */
function pool(m: Float64Array, w: number, h: number): { m: Float64Array; w: number; h: number } {
  const pw = Math.floor(w / 2);
  const ph = Math.floor(h / 2);
  const out = new Float64Array(pw * ph);
  for (let y = 0; y < ph; y++)
    for (let x = 0; x < pw; x++)
      out[y * pw + x] =
        (m[2 * y * w + 2 * x] +
          m[2 * y * w + 2 * x + 1] +
          m[(2 * y + 1) * w + 2 * x] +
          m[(2 * y + 1) * w + 2 * x + 1]) /
        4;
  return { m: out, w: pw, h: ph };
}

export function referenceRegions(spec: Pick<EngineSpec, 'width' | 'height' | 'styles'>): ReferenceRegion[] {
  const { width, height, styles } = spec;
  const groups: { mask?: MaskImage; styles: number[] }[] = [];
  styles.forEach((s, i) => {
    const g = groups.find((x) => sameMask(x.mask, s.mask));
    if (g) g.styles.push(i);
    else groups.push({ mask: s.mask, styles: [i] });
  });
  const anyMask = groups.some((g) => g.mask);
  const blend = (idx: number[]) => {
    const sum = idx.reduce((a, i) => a + styles[i].weight, 0);
    return idx.map((i) => styles[i].weight / sum);
  };
  if (!anyMask) {
    const all = styles.map((_, i) => i);
    const effective = STYLE_LAYERS.map((_, l) => Math.floor(height / 2 ** l) * Math.floor(width / 2 ** l));
    return [{ styles: all, blend: blend(all), masks: STYLE_LAYERS.map(() => null), effective }];
  }
  const full = groups.map((g) =>
    g.mask ? Float64Array.from(g.mask.data) : new Float64Array(width * height).fill(1),
  );
  for (let p = 0; p < width * height; p++) {
    const sum = full.reduce((a, m) => a + m[p], 0);
    if (sum > 1) for (const m of full) m[p] /= sum;
  }
  return groups.map((g, r) => {
    const masks: Float64Array[] = [];
    let level: { m: Float64Array; w: number; h: number } = { m: full[r], w: width, h: height };
    for (let l = 0; l < STYLE_LAYERS.length; l++) {
      if (l > 0) level = pool(level.m, level.w, level.h);
      masks.push(level.m);
    }
    return {
      styles: g.styles,
      blend: blend(g.styles),
      masks,
      effective: masks.map((m) => m.reduce((a, v) => a + v * v, 0)),
    };
  });
}
