/**
 * Spatial sizes through VGG-19: every conv is 'same', every 2x2 stride-2 pooling floors
 * (so an odd row or column is dropped, and its gradient is zero).
 */
import { type ConvLayer, VGG19_LAYERS } from './vgg.js';

export interface Grid {
  readonly height: number;
  readonly width: number;
}

/** The grid each conv layer runs on, for an input of width x height. */
export function convGrids(width: number, height: number): Grid[] {
  const grids: Grid[] = [];
  let grid: Grid = { height, width };
  for (const layer of VGG19_LAYERS) {
    grids.push(grid);
    if (layer.poolAfter) grid = pooled(grid);
  }
  return grids;
}

/** The grid after one 2x2 stride-2 pooling. */
export const pooled = (g: Grid): Grid => ({
  height: Math.floor(g.height / 2),
  width: Math.floor(g.width / 2),
});

/** The grid of a named layer's features. */
export function gridOf(layerName: string, width: number, height: number): Grid {
  const index = VGG19_LAYERS.findIndex((l: ConvLayer) => l.name === layerName);
  if (index < 0) throw new RangeError(`no VGG-19 layer ${layerName}`);
  return convGrids(width, height)[index];
}
