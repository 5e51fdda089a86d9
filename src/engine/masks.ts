/**
 * Spatial style control (the guided Gram matrices of losses.ts): which styles share a region, each
 * region's mask at every style layer's grid, and its effective size there. Shared by both engines, so
 * they weight the same positions the same way.
 */
import { normaliseBlend } from './losses.js';
import { type Grid, gridOf, pooled } from './shapes.js';
import type { MaskImage, StyleImage } from './types.js';
import { STYLE_LAYERS } from './vgg.js';

/** The styles that share one mask (or none: the whole image), and that mask through the network. */
export interface StyleRegion {
  /** Indices into the spec's styles. */
  readonly styles: readonly number[];
  /** Their blend weights, normalised to sum to 1 within the region. */
  readonly blend: readonly number[];
  /**
   * Per style layer: the mask at that layer's grid (row-major, height x width), or undefined when the
   * region is the whole image unweighted (no style has a mask: today's loss, untouched).
   */
  readonly masks: readonly (Float32Array | undefined)[];
  /** Per style layer: E_{r,l}, the sum of the squared mask values (H_l * W_l for the whole image). */
  readonly effective: readonly number[];
}

/** An all-white mask is no mask: its style covers the whole image and blends with the unmasked styles. */
const coversAll = (mask: MaskImage | undefined): boolean => mask?.data.every((v) => v >= 1) === true;

const sameMask = (a: MaskImage | undefined, b: MaskImage | undefined): boolean =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.width === b.width &&
    a.height === b.height &&
    a.data.every((v, i) => v === b.data[i]));

/**
 * The regions of an image of width x height: styles with no mask share one (the whole image), styles
 * with equal masks share one. Where the regions' masks sum to more than 1 at a pixel, each is divided by
 * that sum there. Throws RangeError when a region's blend weights are all zero.
 */
export function styleRegions(width: number, height: number, styles: readonly StyleImage[]): StyleRegion[] {
  const groups: { mask: MaskImage | undefined; styles: number[] }[] = [];
  styles.forEach((style, i) => {
    const mask = coversAll(style.mask) ? undefined : style.mask;
    const group = groups.find((g) => sameMask(g.mask, mask));
    if (group) group.styles.push(i);
    else groups.push({ mask, styles: [i] });
  });
  const grids = STYLE_LAYERS.map((layer) => gridOf(layer, width, height));
  const blendOf = (indices: readonly number[]) => normaliseBlend(indices.map((i) => styles[i].weight));
  if (groups.every((g) => g.mask === undefined)) {
    const all = styles.map((_, i) => i);
    return [
      { styles: all, blend: blendOf(all), masks: grids.map(() => undefined), effective: grids.map(area) },
    ];
  }
  const full = normaliseOverlap(
    groups.map((g) => g.mask?.data ?? new Float32Array(width * height).fill(1)),
    width * height,
  );
  return groups.map((g, r) => {
    const masks = poolToGrids(full[r], { width, height }, grids);
    return {
      styles: g.styles,
      blend: blendOf(g.styles),
      masks,
      effective: masks.map((m) => m.reduce((sum, v) => sum + v * v, 0)),
    };
  });
}

const area = (g: Grid) => g.width * g.height;

/** Copies of the masks where, at each pixel whose values sum to more than 1, each is divided by the sum. */
function normaliseOverlap(masks: readonly Float32Array[], pixels: number): Float32Array[] {
  const out = masks.map((m) => m.slice());
  for (let p = 0; p < pixels; p++) {
    let sum = 0;
    for (const m of masks) sum += m[p];
    if (sum <= 1) continue;
    for (const m of out) m[p] /= sum;
  }
  return out;
}

/**
 * A map (a mask, a tile's weights) at each of `grids`, coarser and coarser: 2x2 stride-2 average pooling
 * (flooring odd sizes, as VGG's poolings do) until the grid is that one.
 */
export function poolToGrids(mask: Float32Array, grid: Grid, grids: readonly Grid[]): Float32Array[] {
  let current = { data: mask, grid };
  return grids.map((target) => {
    while (current.grid.width > target.width || current.grid.height > target.height) {
      current = averagePool(current.data, current.grid);
    }
    return current.data;
  });
}

/** One 2x2 stride-2 average pooling of a row-major single-channel map. */
function averagePool(data: Float32Array, grid: Grid): { data: Float32Array; grid: Grid } {
  const out = pooled(grid);
  const result = new Float32Array(out.width * out.height);
  const at = (y: number, x: number) => data[y * grid.width + x];
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const [y0, x0] = [2 * y, 2 * x];
      result[y * out.width + x] = (at(y0, x0) + at(y0, x0 + 1) + at(y0 + 1, x0) + at(y0 + 1, x0 + 1)) / 4;
    }
  }
  return { data: result, grid: out };
}

/**
 * Regions beyond the first, at most (for the cost model): one per masked style (equal masks would share
 * one) and one for all the unmasked styles.
 */
export function extraStyleRegions(styles: readonly { readonly mask?: unknown }[]): number {
  const masked = styles.filter((s) => s.mask !== undefined).length;
  const unmasked = styles.some((s) => s.mask === undefined) ? 1 : 0;
  return Math.max(0, masked + unmasked - 1);
}
