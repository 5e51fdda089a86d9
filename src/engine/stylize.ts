/**
 * stylize(): the coarse-to-fine driver. At each scale it builds an engine for that size, starts from the
 * previous scale's result (upsampled) or the chosen initial image, and runs the optimiser. Pure: images in,
 * image out; no file or network I/O. Colour matching of the styles and original colours (a luminance
 * transfer) are the caller's steps (src/stylize-image.ts).
 */
import { NstError } from '../errors.js';
import { createEngine as defaultCreateEngine } from './index.js';
import {
  ADAM_AVERAGE_DECAY,
  type AdamOptions,
  averageIterates,
  createOptimiser,
  type LbfgsOptions,
} from './optim/index.js';
import { MAX_SIZE, type StylizeOptions } from './options.js';
import { resampledStyleSize, resampleHwc, resampleImage } from './resample.js';
import { planScales, type Scale, scaleWork } from './schedule.js';
import type {
  EngineChoice,
  EngineKind,
  EngineSpec,
  LossAndGradient,
  LossTerms,
  MaskImage,
  RgbImage,
  StyleEngine,
  StyleImage,
  VggWeights,
} from './types.js';
import { fromNetworkInput, seededRandom, toNetworkInput } from './vgg.js';

/**
 * The most elongated image accepted, long side : short side (checked from the header when decoding, and
 * again here for callers that pass pixels). A style is resampled so its short side is never under
 * MIN_IMAGE_SIDE, so its long side grows with its aspect ratio: a 637-byte 20000x2 PNG became 160000x16
 * pixels through VGG-19 at every scale (3.4 GB instead of 1.3 GB for a 64 px job). At 32:1 that floor costs
 * at most 512x16 pixels; panoramas are rarely past 10:1.
 */
export const MAX_ASPECT_RATIO = 32;

/**
 * The most pixels a style is resampled to: those of the largest result (MAX_SIZE squared), so styleScale
 * above 1 cannot make a style bigger than any job may be.
 */
export const MAX_STYLE_PIXELS = MAX_SIZE * MAX_SIZE;

/** Refuses an image more elongated than MAX_ASPECT_RATIO; `what` names it. */
export function checkAspectRatio(what: string, { width, height }: { width: number; height: number }): void {
  const ratio = Math.max(width, height) / Math.max(1, Math.min(width, height));
  if (ratio <= MAX_ASPECT_RATIO) return;
  throw new NstError(
    'IMAGE_TOO_LARGE',
    `${what} is ${width}x${height}, an aspect ratio of ${Math.round(ratio * 10) / 10}:1, over the limit of ` +
      `${MAX_ASPECT_RATIO}:1: crop it first`,
  );
}

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
  readonly checkpoint: Checkpoint;
  constructor(checkpoint: Checkpoint, reason: unknown) {
    super(
      'ABORTED',
      `stylize stopped at scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`,
      { cause: reason },
    );
    this.checkpoint = checkpoint;
  }
}

function scheduleFor(content: { width: number; height: number }, options: StylizeOptions): Scale[] {
  return planScales({ width: content.width, height: content.height, ...options });
}

export async function stylize(
  input: StylizeInput,
  options: StylizeOptions,
  context: StylizeContext,
): Promise<StylizeResult> {
  const scales = scheduleFor(input.content, options);
  checkInput(input, options, scales);
  const run: Run = { input, options, context, scales, clock: new RunClock(scales) };
  const firstScale = context.resume?.scaleIndex ?? 0;
  for (let s = 0; s < firstScale; s++) run.clock.resumed(scaleWork(scales[s]), scales[s].iterations);
  const outcomes: ScaleOutcome[] = [];
  for (let s = firstScale; s < scales.length; s++) {
    outcomes.push(await runScale(run, s, outcomes.at(-1)?.x));
  }
  return result(run, outcomes);
}

/** Checks the inputs before any engine is built; styles at the largest scale, where they are biggest. */
function checkInput(input: StylizeInput, options: StylizeOptions, scales: readonly Scale[]): void {
  if (input.styles.length === 0) throw new NstError('INVALID_OPTION', 'at least one style image is required');
  if (options.init === 'image' && !input.initImage) {
    throw new NstError('INVALID_OPTION', "init 'image' needs an initial image");
  }
  const last = scales.at(-1);
  input.styles.forEach(({ image, mask }, i) => {
    const what = `style image ${i + 1}`;
    if (mask && (mask.width !== input.content.width || mask.height !== input.content.height)) {
      throw new NstError(
        'INVALID_OPTION',
        `the mask of ${what} is ${mask.width}x${mask.height}; it must be at the content's size, ` +
          `${input.content.width}x${input.content.height}`,
      );
    }
    if (mask?.data.every((v) => v <= 0)) {
      throw new NstError(
        'INVALID_OPTION',
        `the mask of ${what} is all black: it covers no pixel, so the style would do nothing (whiten where it applies)`,
      );
    }
    checkAspectRatio(what, image);
    if (!last) return;
    const { width, height } = styleSize(image, last, options);
    if (width * height <= MAX_STYLE_PIXELS) return;
    const mp = (n: number) => `${(n / 1e6).toFixed(1)} megapixels`;
    throw new NstError(
      'INVALID_OPTION',
      `${what} (${image.width}x${image.height}) would be resampled to ${width}x${height} (${mp(width * height)}) ` +
        `at styleScale ${options.styleScale}, over the limit of ${mp(MAX_STYLE_PIXELS)}: lower styleScale or size`,
    );
  });
}

/**
 * The size a style is resampled to at a scale: its longest side styleScale x the scale's, its shorter side
 * never under MIN_IMAGE_SIDE (bounded by MAX_ASPECT_RATIO, checked first).
 */
function styleSize(
  image: { width: number; height: number },
  scale: Scale,
  options: StylizeOptions,
): { width: number; height: number } {
  return resampledStyleSize(image, Math.max(scale.width, scale.height), options.styleScale);
}

/** One stylize() call: its inputs and its progress over all scales. */
interface Run {
  readonly input: StylizeInput;
  readonly options: StylizeOptions;
  readonly context: StylizeContext;
  readonly scales: readonly Scale[];
  readonly clock: RunClock;
}

/**
 * Iterations before a run's first ETA: the first ones include building the engine (and a resumed run's
 * start-up), so an estimate from them would be far off.
 */
export const ETA_MIN_ITERATIONS = 10;

/**
 * Iterations and work done over all scales, for progress and its ETA. Work resumed from a checkpoint counts
 * as done but not towards the rate: it was done by another run, in that run's time.
 */
export class RunClock {
  readonly total: number;
  private readonly totalWork: number;
  private readonly started: number;
  done = 0;
  private workDone = 0;
  private runWork = 0;
  private runIterations = 0;

  constructor(
    scales: readonly Scale[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.total = scales.reduce((sum, s) => sum + s.iterations, 0);
    this.totalWork = scales.reduce((sum, s) => sum + scaleWork(s), 0);
    this.started = now();
  }

  /** Work a checkpoint says was done before this run. */
  resumed(work: number, iterations: number): void {
    this.workDone += work;
    this.done += iterations;
  }

  /** Work this run has done. */
  count(work: number, iterations: number): void {
    this.resumed(work, iterations);
    this.runWork += work;
    this.runIterations += iterations;
  }

  elapsed(): number {
    return (this.now() - this.started) / 1000;
  }

  /** Seconds left at this run's own rate; undefined for its first ETA_MIN_ITERATIONS iterations. */
  eta(): number | undefined {
    if (this.runIterations < ETA_MIN_ITERATIONS) return undefined;
    return (this.elapsed() * Math.max(0, this.totalWork - this.workDone)) / this.runWork;
  }
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
async function runScale(run: Run, s: number, previous: Float32Array | undefined): Promise<ScaleOutcome> {
  const { input, options, context, scales } = run;
  const scale = scales[s];
  const started = performance.now();
  const isLast = s === scales.length - 1;
  const createEngine = context.createEngine ?? defaultCreateEngine;
  const start = startingPoint(run, s, previous);
  if (context.beforeScale?.({ ...scale, scaleIndex: s, iteration: start.iteration })) {
    const image = fromNetworkInput(start.x, scale.width, scale.height);
    throw new StylizeAborted({ scaleIndex: s, iteration: start.iteration, image }, context.signal?.reason);
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

/** Where a scale starts: the checkpoint when resuming there, else the previous scale's result upsampled, else init. */
function startingPoint(
  run: Run,
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
  run: Run,
  s: number,
  engine: StyleEngine,
  start: { x: Float32Array; iteration: number },
): Promise<{ x: Float32Array; iteration: number; last?: LossTerms }> {
  const { options, context, scales, clock } = run;
  const scale = scales[s];
  // With averaging, optimiser.x is the average: what checkpoints, frames and the scale's result hold.
  const decay = averageDecay(options);
  const optimiser = averageIterates(
    createOptimiser<LossAndGradient>(
      options.optimizer,
      start.x,
      (v) => engine.lossAndGradient(v),
      optimiserOptions(options),
    ),
    decay,
  );
  let iteration = start.iteration;
  let last: LossTerms | undefined;
  while (iteration < scale.iterations) {
    if (context.signal?.aborted) {
      throw new StylizeAborted(
        { scaleIndex: s, iteration, image: fromNetworkInput(optimiser.x, scale.width, scale.height) },
        context.signal.reason,
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

/** Adam's iterate-averaging decay (unset: ADAM_AVERAGE_DECAY); L-BFGS never averages (options refuse it). */
function averageDecay(options: StylizeOptions): number {
  return options.optimizer === 'adam' ? (options.averageDecay ?? ADAM_AVERAGE_DECAY) : 0;
}

/** The optimiser's settings among the options (unset ones take the optimiser's defaults). */
function optimiserOptions(options: StylizeOptions): LbfgsOptions | AdamOptions {
  const learningRate = options.learningRate === undefined ? {} : { learningRate: options.learningRate };
  if (options.optimizer === 'adam') return learningRate;
  return { ...learningRate, historySize: options.lbfgsHistory, lineSearch: options.lineSearch };
}

function progress(run: Run, s: number, iteration: number, terms: LossTerms, x: Float32Array): Progress {
  const { options, scales, clock } = run;
  const scale = scales[s];
  const saveFrame = options.saveEvery > 0 && clock.done % options.saveEvery === 0;
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

function result(run: Run, outcomes: readonly ScaleOutcome[]): StylizeResult {
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

/** The engine's view of one scale: content and styles resized for it. */
function engineSpec(
  input: StylizeInput,
  options: StylizeOptions,
  scale: Scale,
  weights: VggWeights,
): EngineSpec {
  return {
    weights,
    width: scale.width,
    height: scale.height,
    pooling: options.pooling,
    loss: {
      content: options.contentWeight,
      style: options.styleWeight,
      tv: options.tvWeight,
      styleLayers: options.styleLayerWeights,
    },
    content: resampleImage(input.content, scale.width, scale.height),
    styles: input.styles.map(({ image, weight, mask }) => {
      const size = styleSize(image, scale, options);
      const resized = { image: resampleImage(image, size.width, size.height), weight };
      return mask ? { ...resized, mask: resampleMask(mask, scale.width, scale.height) } : resized;
    }),
    threads: options.threads,
  };
}

/** A mask at a scale's size, with the resampling the content gets (clamped: rounding may overshoot 0..1). */
function resampleMask(mask: MaskImage, width: number, height: number): MaskImage {
  const data = resampleHwc(mask.data, mask.width, mask.height, width, height, 1);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, data[i]));
  return { width, height, data };
}

/** The starting image at a scale, in network space. */
function initialImage(input: StylizeInput, options: StylizeOptions, scale: Scale): Float32Array {
  switch (options.init) {
    case 'content':
      return toNetworkInput(resampleImage(input.content, scale.width, scale.height));
    case 'image':
      return toNetworkInput(resampleImage(input.initImage!, scale.width, scale.height));
    case 'random': {
      // Uniform noise over the pixel range: seeded, so runs repeat exactly.
      const rand = seededRandom(options.seed);
      const data = new Float32Array(scale.width * scale.height * 3);
      for (let i = 0; i < data.length; i++) data[i] = rand() * 255;
      return toNetworkInput({ width: scale.width, height: scale.height, data });
    }
  }
}

function clampImage(image: RgbImage): RgbImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, image.data[i]));
  return { width: image.width, height: image.height, data };
}
