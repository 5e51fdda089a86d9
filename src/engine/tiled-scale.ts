/**
 * One scale optimised as tiles (tiling.ts), converging to the untiled result. The whole image's loss is
 * what is optimised: its style term compares the whole image's Grams, which are the sum of the tiles'
 * weighted contributions, with the painting's. The scale runs in rounds:
 *
 *   1. every tile starts from the current whole image, with the residual R = A - G_all frozen for the
 *      round. All tiles move at once, so a tile that cancelled the whole residual alone would overshoot
 *      it T times over (measured: the style loss grew round after round). So tile t aims at its share s_t
 *      of it: its target is G_t + s_t R, and its style term is weighted by 1/s_t (vgg-graph.ts). Its style
 *      gradient at the start is then exactly the whole image's, the tiles' aims add up to R, and a fixed
 *      point of the rounds is the untiled optimum;
 *   2. each tile runs TILE_ROUND_ITERATIONS iterations on its own engine (independently: in a fan-out they
 *      run in parallel), then reports its pixels and its contributions at them;
 *   3. the tiles' pixels blend into the next whole image with their weights, and their contributions sum
 *      to the next round's G_all.
 *
 * A first pass reads each tile's contributions at the starting image. One tile engine exists at a time, so
 * memory follows the tile size: the whole image is held only as pixels and Grams (a few MB).
 */
import { NstError } from '../errors.js';
import { styleCoefficient } from './losses.js';
import { type StyleRegion, styleRegions } from './masks.js';
import { optimiserFor } from './optimiser-for.js';
import type { StylizeOptions } from './options.js';
import { gridOf } from './shapes.js';
import { blendStyleTargets } from './style-targets.js';
import {
  addWeightedTile,
  cropTile,
  planTiles,
  TILE_ROUND_ITERATIONS,
  type TileLoss,
  type TilePlan,
  tileLoss,
  tileWeights,
} from './tiling.js';
import type {
  EngineKind,
  EngineSpec,
  LossTerms,
  LossWeights,
  RgbImage,
  TileEngine,
  TileEngineSpec,
} from './types.js';
import { STYLE_LAYERS, toNetworkInput, VGG19_LAYERS } from './vgg.js';

export interface TiledScale {
  readonly plan: TilePlan;
  /** The whole image's style regions at this scale (masks.ts). */
  readonly regions: readonly StyleRegion[];
  readonly options: StylizeOptions;
  /** Builds tile t's engine (one at a time: the caller disposes none, this does). */
  readonly tileEngine: (t: number) => Promise<TileEngine>;
  /** Tile t's style shares (tiling.ts TileLoss.styleShares). */
  readonly shares: (t: number) => readonly number[];
  /** Iterations per round (default TILE_ROUND_ITERATIONS; tests and tuning runs set others). */
  readonly roundIterations?: number;
  readonly signal?: AbortSignal;
  /**
   * Told after each round: the iterations done at this scale, the whole image's terms, the image, and the
   * tile rounds done of all this scale's (one per tile per round).
   */
  readonly onRound?: (iteration: number, terms: LossTerms, x: Float32Array, tiles: TilesDone) => void;
  /** Told after each tile but a round's last: the whole image's latest terms, and the tile rounds done. */
  readonly onTile?: (terms: LossTerms, tiles: TilesDone) => void;
}

/**
 * A style image's raw Grams F F^T at relu1_1..relu5_1, summed over its tiles (weights adding up to 1), so a
 * painting resampled to a print-size scale never runs through VGG whole. `tileEngine` builds the engine of
 * one tile of `plan` with the given loss share and zero targets (only its Gram contributions are read).
 */
export async function tiledStyleGrams(
  image: Float32Array,
  plan: TilePlan,
  tileEngine: (t: number, tile: { loss: TileLoss; styleTargets: Float32Array[] }) => Promise<TileEngine>,
  /** Called between tiles: throws to stop (the caller's abort). */
  stop: () => void = () => {},
): Promise<Float32Array[]> {
  const regions = styleRegions(plan.width, plan.height, [
    { image: { width: plan.width, height: plan.height, data: new Float32Array(0) }, weight: 1 },
  ]);
  const zeros = STYLE_LAYERS.map((name) => {
    const channels = VGG19_LAYERS.find((layer) => layer.name === name)?.outChannels ?? 0;
    return new Float32Array(channels * channels);
  });
  const perTile: Float32Array[][] = [];
  for (const [t, tile] of plan.tiles.entries()) {
    stop();
    const engine = await tileEngine(t, { loss: tileLoss(plan, t, regions), styleTargets: zeros });
    try {
      perTile.push((await engine.evaluateTile(cropTile(image, plan, tile))).grams);
    } finally {
      engine.dispose();
    }
  }
  return sumGrams(perTile);
}

interface TilesDone {
  readonly done: number;
  readonly total: number;
}

/** A built tile engine's kind and backend, for the scale's report. */
interface Built {
  readonly kind: EngineKind;
  readonly backend: string;
}

/**
 * The tile engines of one scale: `of(image, tiles, t, extra)` builds the engine of tile t of `image` (0..255,
 * the size of `tiles`), the content's or a painting's, from the whole scale's spec. The masks are in the
 * tile's regions; with the style targets given, the styles are not read.
 */
function tileEngines(whole: EngineSpec, create: (spec: TileEngineSpec) => Promise<TileEngine>) {
  let built: Built | undefined;
  const styles = whole.styles.map(({ image, weight }) => ({ image, weight }));
  const of = async (
    image: RgbImage,
    tiles: TilePlan,
    t: number,
    extra: Omit<TileEngineSpec, keyof EngineSpec>,
  ): Promise<TileEngine> => {
    const { width, height } = tiles.tiles[t];
    const content = { width, height, data: cropTile(image.data, tiles, tiles.tiles[t]) };
    const engine = await create({ ...whole, width, height, content, styles, ...extra });
    built = { kind: engine.kind, backend: engine.backend };
    return engine;
  };
  return { of, built: (): Built | undefined => built };
}

/** The paintings' Gram targets A_{r,l} at a scale, each painting summed over its own tiles. */
function paintingTargets(
  whole: EngineSpec,
  regions: readonly StyleRegion[],
  tileSize: number,
  of: ReturnType<typeof tileEngines>['of'],
  stop: () => void,
): Promise<Float32Array[]> {
  const images = whole.styles.map((style) => style.image);
  return blendStyleTargets(regions, images, (i) => {
    const tiles = planTiles(images[i].width, images[i].height, tileSize);
    const painting = (t: number, tile: { loss: TileLoss; styleTargets: Float32Array[] }) =>
      of(images[i], tiles, t, { tile: tile.loss, styleTargets: tile.styleTargets });
    return tiledStyleGrams(toNetworkInput(images[i]), tiles, painting, stop);
  });
}

/** Where a tile stands: its Gram contributions and its content and TV terms, at its pixels. */
export interface TileState {
  readonly grams: Float32Array[];
  readonly terms: LossTerms;
}

/**
 * Runs `iterations` iterations from `x0` (network space, the plan's size), the scale's iterations from
 * `startIteration` on (a resumed scale: a round's boundary); returns the whole image. The signal is
 * checked between tiles and iterations: a stop loses the round under way, never more.
 */
export async function optimiseTiled(
  scale: TiledScale,
  x0: Float32Array,
  iterations: number,
  startIteration = 0,
): Promise<{ x: Float32Array; initial: LossTerms; final: LossTerms; iterations: number }> {
  const stopIfAborted = (done: number, x: Float32Array) => {
    if (scale.signal?.aborted) throw new TiledScaleAborted(done, x, scale.signal.reason);
  };
  let targets: readonly Float32Array[] = [];
  let standing = standingOf(
    await evaluateTiles(
      scale.plan,
      scale.tileEngine,
      x0,
      () => stopIfAborted(0, x0),
      (engine) => {
        targets = engine.styleTargets;
      },
    ),
  );
  const initial = wholeTerms(scale, standing, targets);
  const perRound = scale.roundIterations ?? TILE_ROUND_ITERATIONS;
  const tileCount = scale.plan.tiles.length;
  // Tile rounds are counted over the whole scale, also when it resumed part-way.
  const roundsBefore = Math.floor(startIteration / perRound);
  const total = Math.ceil((startIteration + iterations) / perRound) * tileCount;
  let [x, done, terms] = [x0, 0, initial];
  for (let round = roundsBefore; done < iterations; round++) {
    const [roundStart, roundDone] = [x, done];
    const stop = () => stopIfAborted(roundDone, roundStart);
    stop();
    const length = Math.min(perRound, iterations - done);
    const onTile = (t: number) => {
      if (t < tileCount - 1) scale.onTile?.(terms, { done: round * tileCount + t + 1, total });
    };
    const next = await runRound(scale, { x, standing, targets, iterations: length }, onTile, stop);
    x = next.x;
    standing = standingOf(next.states);
    done += length;
    terms = wholeTerms(scale, standing, targets);
    scale.onRound?.(done, terms, x, { done: (round + 1) * tileCount, total });
  }
  return { x, initial, final: terms, iterations: done };
}

/** One tiled scale's parts, made once from the whole scale's spec: what every runner of its rounds uses. */
export interface TiledScaleSetup {
  readonly plan: TilePlan;
  readonly regions: readonly StyleRegion[];
  /** Tile t's style shares (tiling.ts TileLoss.styleShares). */
  readonly shares: (t: number) => readonly number[];
  /** The paintings' Gram targets A at this scale, tile by tile (`stop` is called between tiles). */
  readonly targets: (stop?: () => void) => Promise<Float32Array[]>;
  /** Tile t's engine on the content's tile, built with `targets` (each round then sets its aim). */
  readonly tileEngine: (t: number, targets: readonly Float32Array[]) => Promise<TileEngine>;
  /** The kind and backend of the last engine built, for the scale's report. */
  readonly built: () => Built | undefined;
}

export function setUpTiledScale(
  whole: EngineSpec,
  tileSize: number,
  create: (spec: TileEngineSpec) => Promise<TileEngine>,
): TiledScaleSetup {
  const plan = planTiles(whole.width, whole.height, tileSize);
  const regions = styleRegions(whole.width, whole.height, whole.styles);
  const engines = tileEngines(whole, create);
  // Only the shares are kept for every tile; a tile's masks are made when its engine is.
  const shares = plan.tiles.map((_, t) => tileLoss(plan, t, regions).styleShares);
  return {
    plan,
    regions,
    shares: (t) => shares[t],
    targets: (stop = () => {}) => paintingTargets(whole, regions, tileSize, engines.of, stop),
    tileEngine: (t, targets) =>
      engines.of(whole.content, plan, t, { tile: tileLoss(plan, t, regions), styleTargets: [...targets] }),
    built: engines.built,
  };
}

/** Thrown when the signal aborts: the iterations done (whole rounds) and the whole image then. */
export class TiledScaleAborted extends NstError {
  constructor(
    readonly iteration: number,
    readonly x: Float32Array,
    reason: unknown,
  ) {
    super('ABORTED', `tiled scale stopped after ${iteration} iterations`, { cause: reason });
  }
}

/** The tiles' states and their contributions summed (G_all), summed once per round. */
export interface Standing {
  readonly states: readonly TileState[];
  readonly all: Float32Array[];
}

export const standingOf = (states: readonly TileState[]): Standing => ({
  states,
  all: sumGrams(states.map((s) => s.grams)),
});

/**
 * Each tile's contributions and terms at x (network space, the plan's size), one engine at a time; `first`
 * sees the first engine (the targets are everyone's). `stop` is called between tiles.
 */
export async function evaluateTiles(
  plan: TilePlan,
  tileEngine: (t: number) => Promise<TileEngine>,
  x: Float32Array,
  stop: () => void,
  first: (engine: TileEngine) => void = () => {},
): Promise<TileState[]> {
  const states: TileState[] = [];
  for (const [t, tile] of plan.tiles.entries()) {
    stop();
    const engine = await tileEngine(t);
    try {
      if (t === 0) first(engine);
      states.push(await engine.evaluateTile(cropTile(x, plan, tile)));
    } finally {
      engine.dispose();
    }
  }
  return states;
}

/** One round: every tile optimised against the residual frozen at its start, then blended. */
async function runRound(
  scale: TiledScale,
  from: {
    readonly x: Float32Array;
    readonly standing: Standing;
    readonly targets: readonly Float32Array[];
    readonly iterations: number;
  },
  tileDone: (t: number) => void,
  stop: () => void,
): Promise<{ x: Float32Array; states: TileState[] }> {
  const { plan } = scale;
  const residual = residualOf(from.targets, from.standing.all);
  const outputs: TileRoundOutput[] = [];
  for (const [t, tile] of plan.tiles.entries()) {
    stop();
    const engine = await scale.tileEngine(t);
    try {
      const input = {
        start: cropTile(from.x, plan, tile),
        grams: from.standing.states[t].grams,
        residual,
        iterations: from.iterations,
      };
      outputs.push(
        await optimiseTile(engine, scale.options, scale.shares(t), input, stop, tileName(plan, t)),
      );
    } finally {
      engine.dispose();
    }
    tileDone(t);
  }
  return {
    x: blendTiles(
      plan,
      outputs.map((o) => o.pixels),
    ),
    states: outputs.map((o) => o.state),
  };
}

/** How errors name tile t. */
export const tileName = (plan: TilePlan, t: number) => `tile ${t + 1} of ${plan.tiles.length}`;

/** One tile's part of a round: its crop of the round's image, its contributions there, and the residual. */
export interface TileRoundInput {
  readonly start: Float32Array;
  readonly grams: readonly Float32Array[];
  /** A - G_all at the round's start, one per style region and layer (residualOf). */
  readonly residual: readonly Float32Array[];
  readonly iterations: number;
}

export interface TileRoundOutput {
  readonly pixels: Float32Array;
  readonly state: TileState;
}

/**
 * Tile t's iterations of a round, on its engine: it aims at G_t + s_t R (its share of the residual, see the
 * file comment), then reports its pixels and its contributions at them. The same function runs every tile
 * of the CLI's rounds and each tile task of the Step Functions fan-out (src/jobs/tiled).
 */
export async function optimiseTile(
  engine: TileEngine,
  options: StylizeOptions,
  shares: readonly number[],
  input: TileRoundInput,
  stop: () => void = () => {},
  name = 'a tile',
): Promise<TileRoundOutput> {
  engine.setStyleTargets(input.residual.map((r, i) => aim(input.grams[i], shares[i], r)));
  const optimiser = optimiserFor(options, input.start, engine);
  for (let k = 0; k < input.iterations; k++) {
    const step = await optimiser.step();
    if (!Number.isFinite(step.evaluation.loss)) {
      throw new NstError('INTERNAL', `the loss diverged in ${name}`);
    }
    if (step.converged) break;
    stop();
  }
  const pixels = optimiser.x;
  return { pixels, state: await engine.evaluateTile(pixels) };
}

/** The round's image: the tiles' pixels blended with their weights (which add up to 1 everywhere). */
export function blendTiles(plan: TilePlan, pixels: readonly Float32Array[]): Float32Array {
  const x = new Float32Array(plan.width * plan.height * 3);
  plan.tiles.forEach((tile, t) => {
    addWeightedTile(x, plan, tile, pixels[t], tileWeights(plan, t));
  });
  return x;
}

/** R = A - G_all: what the whole image's Grams still miss of the painting's. */
export function residualOf(targets: readonly Float32Array[], all: readonly Float32Array[]): Float32Array[] {
  return targets.map((a, i) => a.map((v, k) => v - all[i][k]));
}

/** G_all: the tiles' contributions summed, per style region and layer. */
function sumGrams(perTile: readonly (readonly Float32Array[])[]): Float32Array[] {
  return perTile[0].map((_, i) => {
    const sum = new Float64Array(perTile[0][i].length);
    for (const grams of perTile) for (let k = 0; k < sum.length; k++) sum[k] += grams[i][k];
    return Float32Array.from(sum);
  });
}

/** gram + share * residual. */
function aim(gram: Float32Array, share: number, residual: Float32Array): Float32Array {
  const out = new Float32Array(gram.length);
  for (let i = 0; i < gram.length; i++) out[i] = gram[i] + share * residual[i];
  return out;
}

/**
 * The whole image's loss terms: the tiles' content and TV shares summed, and the style term of the summed
 * Grams against the targets, as losses.ts defines it for the whole image.
 */
export function wholeTerms(
  scale: Pick<TiledScale, 'options' | 'plan' | 'regions'>,
  { states, all }: Standing,
  targets: readonly Float32Array[],
): LossTerms {
  const { options, plan, regions } = scale;
  const loss = { style: options.styleWeight, styleLayers: options.styleLayerWeights };
  const style = wholeStyleTerm(all, targets, regions, plan, loss);
  const content = states.reduce((sum, s) => sum + s.terms.content, 0);
  const tv = states.reduce((sum, s) => sum + s.terms.tv, 0);
  return { content, style, tv, total: content + style + tv };
}

/** beta * Ls of the whole image (losses.ts) from its Grams G_{r,l} and the targets A_{r,l}. */
export function wholeStyleTerm(
  grams: readonly Float32Array[],
  targets: readonly Float32Array[],
  regions: readonly StyleRegion[],
  size: { readonly width: number; readonly height: number },
  loss: Pick<LossWeights, 'style' | 'styleLayers'>,
): number {
  let style = 0;
  regions.forEach((region, r) => {
    STYLE_LAYERS.forEach((name, l) => {
      const grid = gridOf(name, size.width, size.height);
      const channels = VGG19_LAYERS.find((layer) => layer.name === name)?.outChannels ?? 0;
      const weight = loss.style * (loss.styleLayers[l] ?? 0);
      const c = styleCoefficient(weight, channels, grid.width * grid.height, region.effective[l]);
      const i = r * STYLE_LAYERS.length + l;
      let sum = 0;
      for (let k = 0; k < grams[i].length; k++) sum += (grams[i][k] - targets[i][k]) ** 2;
      style += c * sum;
    });
  });
  return style;
}
