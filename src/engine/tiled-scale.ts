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
 *      run in parallel), then reports its pixels and its contributions at them. Its optimiser restarts
 *      each round (its curvature pairs are image-sized), but an L-BFGS tile keeps its inverse Hessian's
 *      scale from round to round, so only a scale's first round (or a resumed one) spends an iteration
 *      on a probe step;
 *   3. the tiles' pixels blend into the next whole image with their weights, and their contributions sum
 *      to the next round's G_all.
 *
 * A first pass reads each tile's contributions at the starting image. Only the tiles running at once (one,
 * or one per worker) have engines, so memory follows the tile size: the whole image is held only as pixels
 * and Grams (a few MB).
 */
import { NstError } from '../errors.js';
import { styleCoefficient } from './losses.js';
import { type StyleRegion, styleRegions } from './masks.js';
import { optimiserFor } from './optimiser-for.js';
import type { StylizeOptions } from './options.js';
import { gridOf } from './shapes.js';
import { styleWeightOf } from './style-strength.js';
import { blendStyleTargets } from './style-targets.js';
import {
  addWeightedTile,
  cropTile,
  planTiles,
  type TileLoss,
  type TilePlan,
  tileLoss,
  tileRounds,
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
  /** The paintings' Gram targets A at this scale (TiledScaleSetup.targets). */
  readonly targets: readonly Float32Array[];
  /** Where the tiles run: in turn on this thread (tilesInTurn), or in a pool of workers (src/tile-workers). */
  readonly tiles: TileRunner;
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

/** What a tile's spec adds to the whole scale's: its loss's share and regions, and the style targets. */
type TileExtras = Required<Omit<TileEngineSpec, keyof EngineSpec>>;

/**
 * The spec of tile t of `image` (0..255, the size of `tiles`), the content's or a painting's, from the whole
 * scale's spec. The masks are in the tile's regions, and the style targets stand for the styles.
 */
function tileSpec(
  whole: EngineSpec,
  image: RgbImage,
  tiles: TilePlan,
  t: number,
  extra: TileExtras,
): TileEngineSpec {
  const { width, height } = tiles.tiles[t];
  const content = { width, height, data: cropTile(image.data, tiles, tiles.tiles[t]) };
  // The style targets are given, so the styles are not read: no painting travels with a tile's spec.
  return { ...whole, width, height, content, styles: [], ...extra };
}

/** The tile engines of one scale, built from their specs; the last one's kind and backend are kept. */
function tileEngines(whole: EngineSpec, create: (spec: TileEngineSpec) => Promise<TileEngine>) {
  let built: Built | undefined;
  const of = async (image: RgbImage, tiles: TilePlan, t: number, extra: TileExtras) => {
    const engine = await create(tileSpec(whole, image, tiles, t, extra));
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
  const { targets } = scale;
  // Made when the stop comes, so that it carries the signal's reason.
  const stopped = (done: number, x: Float32Array) => () =>
    new TiledScaleAborted(done, x, scale.signal?.reason);
  let standing = standingOf(await stopsAt(scale, stopped(0, x0), () => evaluateTiles(scale, x0)));
  const initial = wholeTerms(scale, standing, targets);
  const rounds = tileRounds(startIteration + iterations, scale.roundIterations);
  const tileCount = scale.plan.tiles.length;
  // Tile rounds are counted over the whole scale, also when it resumed part-way.
  const total = rounds.count * tileCount;
  let [x, done, terms] = [x0, 0, initial];
  // Each tile's optimiser scale, carried from round to round (none at the scale's or a resume's start).
  let gammas: readonly (number | undefined)[] = [];
  for (let round = rounds.of(startIteration); done < iterations; round++) {
    // A checkpoint inside a round (none of the rounds' own) shifts the rounds after it; the last is shorter.
    const length = Math.min(rounds.length, iterations - done);
    let tilesDone = 0;
    const onTile = () => {
      tilesDone += 1;
      if (tilesDone < tileCount) scale.onTile?.(terms, { done: round * tileCount + tilesDone, total });
    };
    const from = { x, standing, gammas, iterations: length };
    const next = await stopsAt(scale, stopped(done, x), () => runRound(scale, from, onTile));
    x = next.x;
    standing = standingOf(next.outputs.map((o) => o.state));
    gammas = next.outputs.map((o) => o.gamma);
    done += length;
    terms = wholeTerms(scale, standing, targets);
    scale.onRound?.(done, terms, x, { done: (round + 1) * tileCount, total });
  }
  return { x, initial, final: terms, iterations: done };
}

/**
 * Runs `work` unless the scale's signal has aborted, and turns whatever it throws once the signal has aborted
 * into `aborted()` (a runner stops its tiles its own way: between iterations, or by a worker's stop flag).
 */
async function stopsAt<T>(
  scale: TiledScale,
  aborted: () => TiledScaleAborted,
  work: () => Promise<T>,
): Promise<T> {
  if (scale.signal?.aborted) throw aborted();
  try {
    return await work();
  } catch (e) {
    if (scale.signal?.aborted) throw aborted();
    throw e;
  }
}

/** One tiled scale's parts, made once from the whole scale's spec: what every runner of its rounds uses. */
export interface TiledScaleSetup {
  readonly plan: TilePlan;
  readonly regions: readonly StyleRegion[];
  /** Tile t's style shares (tiling.ts TileLoss.styleShares). */
  readonly shares: (t: number) => readonly number[];
  /** The paintings' Gram targets A at this scale, tile by tile (`stop` is called between tiles). */
  readonly targets: (stop?: () => void) => Promise<Float32Array[]>;
  /** Tile t's engine spec on the content's tile, with `targets` (each round then sets its aim). */
  readonly tileSpec: (t: number, targets: readonly Float32Array[]) => TileEngineSpec;
  /** Tile t's engine on the content's tile, built with `targets`. */
  readonly tileEngine: (t: number, targets: readonly Float32Array[]) => Promise<TileEngine>;
  /** The kind and backend of the last engine built here, for the scale's report. */
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
  const extras = (t: number, targets: readonly Float32Array[]): TileExtras => ({
    tile: tileLoss(plan, t, regions),
    styleTargets: [...targets],
  });
  return {
    plan,
    regions,
    shares: (t) => shares[t],
    targets: (stop = () => {}) => paintingTargets(whole, regions, tileSize, engines.of, stop),
    tileSpec: (t, targets) => tileSpec(whole, whole.content, plan, t, extras(t, targets)),
    tileEngine: (t, targets) => engines.of(whole.content, plan, t, extras(t, targets)),
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
 * Where a scale's tile work runs. Each call is one tile's; the runner decides how many run at once: one
 * engine at a time on this thread (tilesInTurn), or a bounded pool of workers (src/tile-workers). A tile's
 * crop is made when it starts, so that only the tiles running hold theirs.
 */
export interface TileRunner {
  /** Tile t's contributions and terms at `crop()`, its part of the whole image. */
  evaluate(t: number, crop: () => Float32Array): Promise<TileState>;
  /** Tile t's part of a round (optimiseTile) from `input()`. */
  optimise(t: number, input: () => TileRoundInput): Promise<TileRoundOutput>;
}

/** Makes the runner of one tiled scale's tiles, stopped by `signal` (src/tile-workers: a pool of workers). */
export type TileRunnerFactory = (
  setup: Pick<TiledScaleSetup, 'plan' | 'shares' | 'tileSpec'>,
  options: StylizeOptions,
  targets: readonly Float32Array[],
  signal?: AbortSignal,
) => TileRunner;

/**
 * The runner that runs tiles one after another on this thread, each on its own engine, so that one tile
 * engine exists at a time. `stop` is called before each tile and between iterations; once a tile has
 * failed, the tiles still waiting fail with it instead of running.
 */
export function tilesInTurn(
  setup: Pick<TiledScaleSetup, 'plan' | 'shares' | 'tileEngine'>,
  options: StylizeOptions,
  targets: readonly Float32Array[],
  stop: () => void = () => {},
): TileRunner {
  let queue: Promise<unknown> = Promise.resolve();
  let failure: { readonly error: unknown } | undefined;
  const inTurn = <T>(t: number, work: (engine: TileEngine) => Promise<T>): Promise<T> => {
    const run = queue.then(async () => {
      if (failure) throw failure.error;
      stop();
      const engine = await setup.tileEngine(t, targets);
      try {
        return await work(engine);
      } finally {
        engine.dispose();
      }
    });
    queue = run.catch((error: unknown) => {
      failure ??= { error };
    });
    return run;
  };
  return {
    evaluate: (t, crop) => inTurn(t, (engine) => engine.evaluateTile(crop())),
    optimise: (t, input) =>
      inTurn(t, (engine) =>
        optimiseTile(engine, options, setup.shares(t), input(), stop, tileName(setup.plan, t)),
      ),
  };
}

/** Each tile's contributions and terms at x (network space, the plan's size). */
export function evaluateTiles(
  scale: { readonly plan: TilePlan; readonly tiles: TileRunner },
  x: Float32Array,
): Promise<TileState[]> {
  const { plan, tiles } = scale;
  return Promise.all(plan.tiles.map((tile, t) => tiles.evaluate(t, () => cropTile(x, plan, tile))));
}

/** One round: every tile optimised against the residual frozen at its start, then blended. */
async function runRound(
  scale: TiledScale,
  from: {
    readonly x: Float32Array;
    readonly standing: Standing;
    readonly gammas: readonly (number | undefined)[];
    readonly iterations: number;
  },
  tileDone: () => void,
): Promise<{ x: Float32Array; outputs: TileRoundOutput[] }> {
  const { plan } = scale;
  const residual = residualOf(scale.targets, from.standing.all);
  // Tiles that finish after another failed are not progress: the round is lost.
  let failed = false;
  const outputs = await Promise.all(
    plan.tiles.map(async (tile, t) => {
      const input = () => ({
        start: cropTile(from.x, plan, tile),
        grams: from.standing.states[t].grams,
        residual,
        iterations: from.iterations,
        gamma: from.gammas[t],
      });
      try {
        const output = await scale.tiles.optimise(t, input);
        if (!failed) tileDone();
        return output;
      } catch (e) {
        failed = true;
        throw e;
      }
    }),
  );
  return {
    x: blendTiles(
      plan,
      outputs.map((o) => o.pixels),
    ),
    outputs,
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
  /**
   * L-BFGS's inverse Hessian scale at the end of the tile's previous round (none in a scale's first round,
   * or after a resume).
   */
  readonly gamma?: number;
}

export interface TileRoundOutput {
  readonly pixels: Float32Array;
  readonly state: TileState;
  /** L-BFGS's inverse Hessian scale at the end of the round, for the tile's next round. */
  readonly gamma?: number;
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
  // Each round restarts the optimiser on a slightly moved aim; L-BFGS given the gamma the tile's last round
  // ended with skips the probe step a restart would take (one iteration of a round's few).
  const optimiser = optimiserFor(options, input.start, engine, input.gamma);
  for (let k = 0; k < input.iterations; k++) {
    const step = await optimiser.step();
    if (!Number.isFinite(step.evaluation.loss)) {
      throw new NstError('INTERNAL', `the loss diverged in ${name}`);
    }
    if (step.converged) break;
    stop();
  }
  const pixels = optimiser.x;
  // As a float32, as the fan-out's tile objects keep it, so that every runner carries the same number.
  const gamma = optimiser.gamma === undefined ? undefined : Math.fround(optimiser.gamma);
  return { pixels, state: await engine.evaluateTile(pixels), gamma };
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
  const loss = { style: styleWeightOf(options), styleLayers: options.styleLayerWeights };
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
