/**
 * stylize(): the coarse-to-fine driver. At each scale it builds an engine for that size, starts from the
 * previous scale's result (upsampled) or the chosen initial image, and runs the optimiser. Pure: images in,
 * image out; no file or network I/O. Colour matching of the styles and original colours (a luminance
 * transfer) are the caller's steps (src/stylize-image.ts).
 */
import { NstError } from '../errors.js';
import {
  checkTileEngine,
  createEngine as defaultCreateEngine,
  createTileEngine as defaultCreateTileEngine,
} from './index.js';
import { checkInput } from './input-limits.js';
import { averageDecay, optimiserFor } from './optimiser-for.js';
import type { StylizeOptions } from './options.js';
import { resampleHwc, resampleImage } from './resample.js';
import { RunClock } from './run-clock.js';
import { clampImage, engineSpec, initialImage } from './scale-spec.js';
import { planScales, type Scale, scaleWork } from './schedule.js';
import {
  optimiseTiled,
  setUpTiledScale,
  TiledScaleAborted,
  type TileRunnerFactory,
  tilesInTurn,
} from './tiled-scale.js';
import { isTiled } from './tiling.js';
import type {
  EngineChoice,
  EngineKind,
  EngineSpec,
  LossTerms,
  RgbImage,
  StyleEngine,
  StyleImage,
  TileEngine,
  TileEngineSpec,
  VggWeights,
} from './types.js';
import { fromNetworkInput, toNetworkInput } from './vgg.js';

export interface StylizeInput {
  /** The content image at the target size (the caller resizes it with a high-quality filter). */
  readonly content: RgbImage;
  /**
   * Style images at any size; each is resized to styleScale x the current scale. A mask is at the content's
   * size, and is resized to each scale as the content is.
   */
  readonly styles: readonly StyleImage[];
  /** Starting image for init 'image' (any size). */
  readonly initImage?: RgbImage;
}

/** Where a stopped run was, enough to continue it (in another process, from S3). */
export interface Checkpoint {
  readonly scaleIndex: number;
  /** Iterations already done at that scale. */
  readonly iteration: number;
  /**
   * The current image at that scale, RGB 0..255 (not clamped). With Adam's iterate averaging it is the
   * average (the image the user sees); Adam's moments are not kept, so a resumed run restarts them and the
   * average from this image, as each new scale does.
   */
  readonly image: RgbImage;
}

export interface Progress {
  readonly scaleIndex: number;
  readonly scaleCount: number;
  readonly width: number;
  readonly height: number;
  /** Iteration within this scale, 1-based. */
  readonly iteration: number;
  readonly scaleIterations: number;
  /** Iterations done over all scales, and their total. */
  readonly done: number;
  readonly total: number;
  readonly terms: LossTerms;
  /** Seconds this run has taken, and its estimate of the seconds left (absent for its first ETA_MIN_ITERATIONS). */
  readonly elapsedSeconds: number;
  readonly etaSeconds?: number;
  /** The current image (clamped), every `saveEvery` iterations. */
  readonly image?: RgbImage;
  /** At a tiled scale: the tile rounds done over all its rounds, counted tile by tile. */
  readonly tiles?: { readonly done: number; readonly total: number };
}

export interface StylizeContext {
  readonly weights: VggWeights;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
  /** Continue a run that stopped at this checkpoint. */
  readonly resume?: Checkpoint;
  /**
   * Asked before each scale's engine is built (an evaluation cannot be interrupted, so a deadline is best
   * checked here); `true` stops the run with a StylizeAborted checkpoint at that scale's starting image.
   */
  readonly beforeScale?: (scale: ScaleStart) => boolean | undefined;
  /** Engine construction (tests inject counting or failing engines). */
  readonly createEngine?: (choice: EngineChoice, spec: EngineSpec) => Promise<StyleEngine>;
  /** Tile engine construction, for scales larger than options.tileSize. */
  readonly createTileEngine?: (choice: EngineChoice, spec: TileEngineSpec) => Promise<TileEngine>;
  /** Iterations per round of a tiled scale (default TILE_ROUND_ITERATIONS; tests and tuning runs set others). */
  readonly tileRoundIterations?: number;
  /** Where tiled scales run their tiles (a pool of workers); absent, in turn on this thread. */
  readonly tileRunner?: TileRunnerFactory;
  /**
   * The scales to run, when the caller planned them already (so one plan serves its checkpoint check, its
   * cost estimate and the run); the last must be at the content's size. Absent: planned from the options.
   */
  readonly scales?: readonly Scale[];
}

/** A scale about to start: its index, size and iterations, and where in it the run starts. */
export interface ScaleStart extends Scale {
  readonly scaleIndex: number;
  readonly iteration: number;
}

interface ScaleReport extends Scale {
  readonly iterationsRun: number;
  readonly seconds: number;
  readonly final: LossTerms;
}

export interface StylizeResult {
  /** The result at the content's size, RGB 0..255, clamped. */
  readonly image: RgbImage;
  readonly engine: EngineKind;
  readonly backend: string;
  /** Iterations run over all scales. */
  readonly iterations: number;
  readonly seconds: number;
  /** Loss terms at the final scale for the starting image, before any optimisation. */
  readonly initial: LossTerms;
  /** Loss terms at the final scale for the result. */
  readonly final: LossTerms;
  readonly scales: readonly ScaleReport[];
}

/** Thrown when the signal aborts; carries where the run was so it can continue elsewhere. */
export class StylizeAborted extends NstError {
  constructor(
    readonly checkpoint: Checkpoint,
    reason: unknown,
    /** Iterations this run did before it stopped (a tiled scale's unfinished round does not count). */
    readonly iterationsRun: number,
  ) {
    super(
      'ABORTED',
      `stylize stopped at scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`,
      { cause: reason },
    );
  }
}

/** The caller's plan, refused when it cannot be this run's (a bug, not a user error), or one planned here. */
function scalesFor(input: StylizeInput, options: StylizeOptions, given?: readonly Scale[]): readonly Scale[] {
  const { width, height } = input.content;
  if (!given) return planScales({ width, height, ...options });
  const last = given.at(-1);
  if (last?.width !== width || last.height !== height) {
    const ends = last ? `ends at ${last.width}x${last.height}` : 'is empty';
    throw new NstError('INTERNAL', `the scale plan ${ends}, but the content is ${width}x${height}`);
  }
  return given;
}

export async function stylize(
  input: StylizeInput,
  options: StylizeOptions,
  context: StylizeContext,
): Promise<StylizeResult> {
  const scales = scalesFor(input, options, context.scales);
  checkInput(input, options, scales);
  // Refused before any scale runs, not at the first tiled one.
  const tiled = scales.some((scale) => isTiled(scale, options.tileSize));
  if (tiled && !context.createTileEngine) await checkTileEngine(options.engine);
  const run: DriverRun = { input, options, context, scales, clock: new RunClock(scales) };
  const firstScale = context.resume?.scaleIndex ?? 0;
  for (let s = 0; s < firstScale; s++) run.clock.resumed(scaleWork(scales[s]), scales[s].iterations);
  const outcomes: ScaleOutcome[] = [];
  for (let s = firstScale; s < scales.length; s++) {
    outcomes.push(await runScale(run, s, outcomes.at(-1)?.x));
  }
  return result(run, outcomes);
}

/** One stylize() call: its inputs, its scales and its clock over all of them. */
interface DriverRun {
  readonly input: StylizeInput;
  readonly options: StylizeOptions;
  readonly context: StylizeContext;
  readonly scales: readonly Scale[];
  readonly clock: RunClock;
}

interface ScaleOutcome {
  readonly x: Float32Array;
  readonly engine: EngineKind;
  readonly backend: string;
  readonly report: ScaleReport;
  /** The final scale's loss terms for the starting image and for the result. */
  readonly initial?: LossTerms;
  readonly final?: LossTerms;
}

/** One scale on its own engine: start from the previous scale's result, optimise, report. */
async function runScale(
  run: DriverRun,
  s: number,
  previous: Float32Array | undefined,
): Promise<ScaleOutcome> {
  const { input, options, context, scales } = run;
  const scale = scales[s];
  const started = performance.now();
  const isLast = s === scales.length - 1;
  const createEngine = context.createEngine ?? defaultCreateEngine;
  const start = startingPoint(run, s, previous);
  if (context.beforeScale?.({ ...scale, scaleIndex: s, iteration: start.iteration })) {
    const image = fromNetworkInput(start.x, scale.width, scale.height);
    throw new StylizeAborted(
      { scaleIndex: s, iteration: start.iteration, image },
      context.signal?.reason,
      run.clock.iterationsRun,
    );
  }
  if (options.tileSize !== undefined && isTiled(scale, options.tileSize)) {
    return runTiledScale(run, s, start, options.tileSize);
  }
  const engine = await createEngine(options.engine, engineSpec(input, options, scale, context.weights));
  try {
    const initial = isLast
      ? (await engine.lossAndGradient(initialImage(input, options, scale))).terms
      : undefined;
    const { x, iteration, last } = await optimiseScale(run, s, engine, start);
    const final = isLast ? (await engine.lossAndGradient(x)).terms : undefined;
    const report: ScaleReport = {
      ...scale,
      iterationsRun: iteration - start.iteration,
      seconds: (performance.now() - started) / 1000,
      final: final ?? last ?? (await engine.lossAndGradient(x)).terms,
    };
    return { x, engine: engine.kind, backend: engine.backend, report, initial, final };
  } finally {
    engine.dispose();
  }
}

/**
 * One scale as tiles (tiled-scale.ts). Its report's loss terms are the whole image's, assembled from the
 * tiles; a tiled final scale's `initial` terms are at its starting image (the previous scale's result).
 */
async function runTiledScale(
  run: DriverRun,
  s: number,
  start: { x: Float32Array; iteration: number },
  tileSize: number,
): Promise<ScaleOutcome> {
  const { input, options, context, scales, clock } = run;
  const scale = scales[s];
  const started = performance.now();
  const whole = engineSpec(input, options, scale, context.weights);
  const setup = setUpTiledScale(whole, tileSize, (spec) =>
    (context.createTileEngine ?? defaultCreateTileEngine)(options.engine, spec),
  );
  const stop = () => context.signal?.throwIfAborted();
  const perIteration = scaleWork(scale) / scale.iterations;
  let counted = 0;
  try {
    // Between the painting's tiles: a stop there is a stop at the scale's start.
    const targets = await setup.targets(() => {
      if (context.signal?.aborted) throw new TiledScaleAborted(0, start.x, context.signal.reason);
    });
    const outcome = await optimiseTiled(
      {
        plan: setup.plan,
        regions: setup.regions,
        options,
        targets,
        tiles:
          context.tileRunner?.(setup, options, targets, context.signal) ??
          tilesInTurn(setup, options, targets, stop),
        roundIterations: context.tileRoundIterations,
        signal: context.signal,
        onRound: (iteration, terms, x, tiles) => {
          const doneBefore = clock.done;
          clock.count(perIteration * (iteration - counted), iteration - counted);
          counted = iteration;
          const round = progress(run, s, start.iteration + iteration, terms, x, doneBefore);
          context.onProgress?.({ ...round, tiles });
        },
        onTile: (terms, tiles) => {
          context.onProgress?.({ ...progress(run, s, start.iteration + counted, terms), tiles });
        },
      },
      start.x,
      scale.iterations - start.iteration,
      start.iteration,
    );
    const built = setup.built();
    if (!built) throw new NstError('INTERNAL', 'a tiled scale built no engine');
    const report: ScaleReport = {
      ...scale,
      iterationsRun: outcome.iterations,
      seconds: (performance.now() - started) / 1000,
      final: outcome.final,
    };
    const isLast = s === scales.length - 1;
    return {
      x: outcome.x,
      engine: built.kind,
      backend: built.backend,
      report,
      ...(isLast ? { initial: outcome.initial, final: outcome.final } : {}),
    };
  } catch (e) {
    if (!(e instanceof TiledScaleAborted)) throw e;
    const image = fromNetworkInput(e.x, scale.width, scale.height);
    const checkpoint = { scaleIndex: s, iteration: start.iteration + e.iteration, image };
    throw new StylizeAborted(checkpoint, e.cause, clock.iterationsRun);
  }
}

/** Where a scale starts: the checkpoint when resuming there, else the previous scale's result upsampled, else init. */
function startingPoint(
  run: DriverRun,
  s: number,
  previous: Float32Array | undefined,
): { x: Float32Array; iteration: number } {
  const { input, options, context, scales } = run;
  const scale = scales[s];
  const resume = context.resume;
  if (resume && s === resume.scaleIndex) {
    const iteration = Math.min(resume.iteration, scale.iterations);
    run.clock.resumed((scaleWork(scale) * iteration) / scale.iterations, iteration);
    return { x: toNetworkInput(resampleImage(resume.image, scale.width, scale.height)), iteration };
  }
  if (previous) {
    const from = scales[s - 1];
    return { x: resampleHwc(previous, from.width, from.height, scale.width, scale.height), iteration: 0 };
  }
  return { x: initialImage(input, options, scale), iteration: 0 };
}

/** Runs the optimiser at one scale until its iterations are done or it converges. */
async function optimiseScale(
  run: DriverRun,
  s: number,
  engine: StyleEngine,
  start: { x: Float32Array; iteration: number },
): Promise<{ x: Float32Array; iteration: number; last?: LossTerms }> {
  const { options, context, scales, clock } = run;
  const scale = scales[s];
  const decay = averageDecay(options);
  const optimiser = optimiserFor(options, start.x, engine);
  let iteration = start.iteration;
  let last: LossTerms | undefined;
  while (iteration < scale.iterations) {
    if (context.signal?.aborted) {
      throw new StylizeAborted(
        { scaleIndex: s, iteration, image: fromNetworkInput(optimiser.x, scale.width, scale.height) },
        context.signal.reason,
        clock.iterationsRun,
      );
    }
    const step = await optimiser.step();
    iteration++;
    clock.count(scaleWork(scale) / scale.iterations, 1);
    last = step.evaluation.terms;
    if (!Number.isFinite(step.evaluation.loss)) {
      throw new NstError('INTERNAL', `the loss diverged at scale ${s + 1}, iteration ${iteration}`);
    }
    context.onProgress?.(progress(run, s, iteration, last, optimiser.x));
    if (step.converged) break;
  }
  // The steps' losses are the iterates'; an averaged scale's loss is the average's (the caller evaluates it).
  return { x: optimiser.x.slice(), iteration, last: decay > 0 ? undefined : last };
}

/**
 * The run's progress; with `x`, the image too when a frame is due: when the iterations done since
 * `doneBefore` (by default the one before) crossed a multiple of saveEvery (a tiled round counts many).
 */
function progress(
  run: DriverRun,
  s: number,
  iteration: number,
  terms: LossTerms,
  x?: Float32Array,
  doneBefore = run.clock.done - 1,
): Progress {
  const { options, scales, clock } = run;
  const scale = scales[s];
  const every = options.saveEvery;
  const saveFrame =
    x !== undefined && every > 0 && Math.floor(clock.done / every) > Math.floor(doneBefore / every);
  return {
    scaleIndex: s,
    scaleCount: scales.length,
    width: scale.width,
    height: scale.height,
    iteration,
    scaleIterations: scale.iterations,
    done: clock.done,
    total: clock.total,
    terms,
    elapsedSeconds: clock.elapsed(),
    etaSeconds: clock.eta(),
    image: saveFrame ? clampImage(fromNetworkInput(x, scale.width, scale.height)) : undefined,
  };
}

function result(run: DriverRun, outcomes: readonly ScaleOutcome[]): StylizeResult {
  const last = outcomes.at(-1);
  if (!last?.initial || !last.final) throw new NstError('INTERNAL', 'stylize ran no scale');
  const { width, height } = run.input.content;
  const reports = outcomes.map((o) => o.report);
  return {
    image: clampImage(fromNetworkInput(last.x, width, height)),
    engine: last.engine,
    backend: last.backend,
    iterations: reports.reduce((sum, r) => sum + r.iterationsRun, 0),
    seconds: run.clock.elapsed(),
    initial: last.initial,
    final: last.final,
    scales: reports,
  };
}
