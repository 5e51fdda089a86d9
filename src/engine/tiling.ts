/**
 * Tiles of a scale too large for one engine (README, "Print sizes"). The whole image's loss is optimised
 * tile by tile: every position of the image belongs to the tiles that cover it with weights that add up to
 * 1, so the tiles' weighted Gram contributions sum to the whole image's Gram, their weighted content and TV
 * terms to the whole image's, and their pixels blend back with the same weights.
 *
 * Along each axis, neighbouring tiles overlap by TILE_OVERLAP pixels:
 *
 *   tile A  ...1111111111\\\\\\\\\\0000000      A's weight: 1, a linear ramp down, then 0 for the margin
 *   tile B       0000000//////////1111111...   B's weight: 0 for the margin, a ramp up, then 1
 *                |margin| ramp   |margin|
 *
 * In a margin a tile only looks: its features there are spoiled by its border's zero padding, so it gives
 * them no weight. TILE_MARGIN is two positions of relu5_1's grid (1/16 of the pixels): the convolutions
 * near the top of VGG see mostly their own neighbourhood, and a wider margin makes every tile larger. The
 * ramp blends the pixels without a visible seam. The weights are products of one profile per axis, each of
 * which sums to 1 over the tiles, so their products do too, also where four tiles meet.
 *
 * Tiles start on a 16-pixel lattice, so a tile's positions at every VGG layer (4 poolings) are positions
 * of the whole image's grid there.
 */
import { NstError } from '../errors.js';
import { poolToGrids, type StyleRegion } from './masks.js';
import { convGrids, type Grid } from './shapes.js';
import { CONTENT_LAYER, STYLE_LAYERS, VGG19_LAYERS } from './vgg.js';

/** Tiles start on multiples of this: the pixels per position of the deepest style layer (relu5_1). */
export const TILE_ALIGN = 16;
/** Pixels at a tile's inner edge that it sees but gives no weight. */
const TILE_MARGIN = 2 * TILE_ALIGN;
/** Pixels over which one tile's weight hands over to its neighbour's. */
const TILE_RAMP = 4 * TILE_ALIGN;
/** How far neighbouring tiles overlap: both margins and the ramp. */
export const TILE_OVERLAP = 2 * TILE_MARGIN + TILE_RAMP;
/** The smallest tile: twice the overlap, so a tile's centre is at least as wide as its overlaps. */
export const MIN_TILE_SIZE = 2 * TILE_OVERLAP;
/** The largest: beyond it a tile costs as much memory as the untiled scales tiling is for. */
export const MAX_TILE_SIZE = 4096;

/**
 * Iterations each tile runs against one frozen residual. Shorter rounds follow the whole image's residual
 * more closely, but each round restarts every tile's optimiser (its curvature pairs are lost) and costs
 * one engine build and one extra evaluation (tiled-scale.ts). Measured on tubingen x The Starry Night at
 * 512 px in 256 px tiles, with issue 11's defaults (beta 1e3, from 256 px) (L-BFGS keeping its scale across rounds), against the untiled run: rounds of 20
 * came closer than rounds of 10 in every term (total loss +8.4% against +9.2%, content +10.2% against
 * +11.6%, tile colours within 6.4 levels against 7.1).
 */
export const TILE_ROUND_ITERATIONS = 20;

/** The rounds of a tiled scale: the one home of their arithmetic (the CLI's, the fan-out's, the cost model's). */
export interface TileRounds {
  /** Iterations a round runs (the last may run fewer). */
  readonly length: number;
  /** Rounds in the scale. */
  readonly count: number;
  /** The round iteration i falls in (round r starts at r x length). */
  readonly of: (iteration: number) => number;
  /** The iterations round r runs. */
  readonly iterationsOf: (round: number) => number;
  /** Iterations done at the end of round r. */
  readonly doneAfter: (round: number) => number;
}

export function tileRounds(iterations: number, length = TILE_ROUND_ITERATIONS): TileRounds {
  return {
    length,
    count: Math.ceil(iterations / length),
    of: (iteration) => Math.floor(iteration / length),
    iterationsOf: (round) => Math.min(length, iterations - round * length),
    doneAfter: (round) => Math.min((round + 1) * length, iterations),
  };
}

/** A window of the scale's image, in its pixels. */
export interface Tile {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** One axis of the plan: where each tile starts and ends. */
interface Span {
  readonly start: number;
  readonly end: number;
}

export interface TilePlan {
  readonly width: number;
  readonly height: number;
  /** Row by row, left to right. */
  readonly tiles: readonly Tile[];
  readonly columns: readonly Span[];
  readonly rows: readonly Span[];
}

/** The spans of one axis of `size` pixels, each at most `tileSize` long, overlapping by TILE_OVERLAP. */
function spans(size: number, tileSize: number): Span[] {
  if (size <= tileSize) return [{ start: 0, end: size }];
  const stride = tileSize - TILE_OVERLAP;
  const out: Span[] = [];
  for (let start = 0; ; start += stride) {
    const end = Math.min(start + tileSize, size);
    out.push({ start, end });
    if (end === size) return out;
  }
}

/** The longest side a tile of `tileSize` has: rounded down to the lattice. */
export const tileSide = (tileSize: number): number => Math.floor(tileSize / TILE_ALIGN) * TILE_ALIGN;

/** Whether a width x height scale runs as tiles: it is larger than one tile (none without a tile size). */
export const isTiled = (scale: { width: number; height: number }, tileSize: number | undefined): boolean =>
  tileSize !== undefined && Math.max(scale.width, scale.height) > tileSide(tileSize);

/**
 * The tiles of a width x height scale, each at most tileSize on a side (rounded down to TILE_ALIGN). A scale
 * that fits one tile is one tile, the whole image.
 */
export function planTiles(width: number, height: number, tileSize: number): TilePlan {
  const size = tileSide(tileSize);
  if (size < MIN_TILE_SIZE) {
    throw new NstError(
      'INVALID_OPTION',
      `the tile size must be at least ${MIN_TILE_SIZE} pixels (got ${tileSize})`,
    );
  }
  const columns = spans(width, size);
  const rows = spans(height, size);
  const tiles = rows.flatMap((row) =>
    columns.map((column) => ({
      x: column.start,
      y: row.start,
      width: column.end - column.start,
      height: row.end - row.start,
    })),
  );
  return { width, height, tiles, columns, rows };
}

/** Every tile of every tiled scale, in that scale's pixels (`scale`: its index in the plan). */
export function tilesOfScales(
  scales: readonly { readonly width: number; readonly height: number }[],
  tileSize: number | undefined,
): { scale: number; x: number; y: number; width: number; height: number }[] {
  if (tileSize === undefined) return [];
  return scales.flatMap((scale, s) =>
    isTiled(scale, tileSize)
      ? planTiles(scale.width, scale.height, tileSize).tiles.map((tile) => ({ scale: s, ...tile }))
      : [],
  );
}

/** One axis's weights of span i: 1 inside, 0 in a margin, a ramp between, 1 to the image's own edge. */
function profile(axis: readonly Span[], i: number): Float32Array {
  const { start, end } = axis[i];
  const weights = new Float32Array(end - start).fill(1);
  const ramp = (from: number, rising: boolean) => {
    for (let k = 0; k < TILE_RAMP; k++) {
      const w = (k + 0.5) / TILE_RAMP;
      weights[from + k] = rising ? w : 1 - w;
    }
  };
  if (i > 0) {
    // The overlap with the previous span starts at this span's start.
    weights.fill(0, 0, TILE_MARGIN);
    ramp(TILE_MARGIN, true);
  }
  if (i < axis.length - 1) {
    // The overlap with the next span ends at this span's end.
    const overlapStart = axis[i + 1].start - start;
    ramp(overlapStart + TILE_MARGIN, false);
    weights.fill(0, overlapStart + TILE_MARGIN + TILE_RAMP);
  }
  return weights;
}

/** The tile's weight at each of its pixels (row-major, its width x height): the tiles' weights sum to 1. */
export function tileWeights(plan: TilePlan, t: number): Float32Array {
  const column = t % plan.columns.length;
  const row = Math.floor(t / plan.columns.length);
  const across = profile(plan.columns, column);
  const down = profile(plan.rows, row);
  const out = new Float32Array(across.length * down.length);
  for (let y = 0; y < down.length; y++) {
    for (let x = 0; x < across.length; x++) out[y * across.length + x] = down[y] * across[x];
  }
  return out;
}

/** The tile's window of an HWC image of the plan's size, with `channels` values per pixel. */
export function cropTile(image: Float32Array, plan: TilePlan, tile: Tile, channels = 3): Float32Array {
  const out = new Float32Array(tile.width * tile.height * channels);
  for (let y = 0; y < tile.height; y++) {
    const from = ((tile.y + y) * plan.width + tile.x) * channels;
    out.set(image.subarray(from, from + tile.width * channels), y * tile.width * channels);
  }
  return out;
}

/** Adds the tile's image, weighted per pixel, into the whole HWC image (blending: the weights sum to 1). */
export function addWeightedTile(
  into: Float32Array,
  plan: TilePlan,
  tile: Tile,
  image: Float32Array,
  weights: Float32Array,
  channels = 3,
): void {
  for (let y = 0; y < tile.height; y++) {
    for (let x = 0; x < tile.width; x++) {
      const w = weights[y * tile.width + x];
      if (w === 0) continue;
      const to = ((tile.y + y) * plan.width + tile.x + x) * channels;
      const from = (y * tile.width + x) * channels;
      for (let c = 0; c < channels; c++) into[to + c] += w * image[from + c];
    }
  }
}

/**
 * What a tile's engine needs to compute its share of the whole image's loss (losses.ts):
 * - regions: the whole image's style regions, each mask cropped to the tile and multiplied by the square
 *   root of the tile's weight at that layer (the Gram weighs a position by the mask squared), their
 *   effective sizes the whole image's;
 * - positions: the whole image's positions per style layer (M_l);
 * - contentWeights: the tile's weight per position of the content layer;
 * - pixelWeights: its weight per pixel (for TV).
 */
export interface TileLoss {
  readonly regions: readonly StyleRegion[];
  readonly positions: readonly number[];
  /**
   * Per region and style layer (r * 5 + l): the tile's share of the region's effective positions there
   * (its masks' squares summed over E_{r,l}); the tiles' shares add up to 1. See tiled-scale.ts.
   */
  readonly styleShares: readonly number[];
  readonly contentWeights: Float32Array;
  readonly pixelWeights: Float32Array;
}

const layerIndex = (name: string) => VGG19_LAYERS.findIndex((l) => l.name === name);
/** Poolings before a layer: its grid is the image's divided by 2 to that power (floored at each). */
const poolsBefore = (name: string) =>
  VGG19_LAYERS.slice(0, layerIndex(name)).filter((layer) => layer.poolAfter).length;

export function tileLoss(plan: TilePlan, t: number, whole: readonly StyleRegion[]): TileLoss {
  const tile = plan.tiles[t];
  const pixelWeights = tileWeights(plan, t);
  const tileGrid = { width: tile.width, height: tile.height };
  const wholeGrids = convGrids(plan.width, plan.height);
  const tileGrids = convGrids(tile.width, tile.height);
  const styleGrids = STYLE_LAYERS.map((name) => tileGrids[layerIndex(name)]);
  const pooledWeights = poolToGrids(pixelWeights, tileGrid, styleGrids);
  const regions = whole.map((region) => ({
    ...region,
    masks: STYLE_LAYERS.map((name, l) => {
      const grid = styleGrids[l];
      const scale = 2 ** poolsBefore(name);
      const wholeGrid = wholeGrids[layerIndex(name)];
      const mask = region.masks[l];
      const out = new Float32Array(grid.width * grid.height);
      for (let y = 0; y < grid.height; y++) {
        for (let x = 0; x < grid.width; x++) {
          const at = y * grid.width + x;
          const m = mask ? mask[(tile.y / scale + y) * wholeGrid.width + tile.x / scale + x] : 1;
          out[at] = m * Math.sqrt(pooledWeights[l][at]);
        }
      }
      return out;
    }),
  }));
  const contentGrid = tileGrids[layerIndex(CONTENT_LAYER)];
  const [contentWeights] = poolToGrids(pixelWeights, tileGrid, [contentGrid]);
  const styleShares = regions.flatMap((region, r) =>
    region.masks.map((mask, l) => {
      const effective = whole[r].effective[l];
      const covered = mask?.reduce((sum, m) => sum + m * m, 0) ?? 0;
      return effective > 0 ? covered / effective : 0;
    }),
  );
  return {
    regions,
    positions: STYLE_LAYERS.map((name) => area(wholeGrids[layerIndex(name)])),
    styleShares,
    contentWeights,
    pixelWeights,
  };
}

const area = (g: Grid) => g.width * g.height;
