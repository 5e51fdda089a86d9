/**
 * stylize(): the coarse-to-fine driver. At each scale it builds an engine for that size, starts from the
 * previous scale's result (upsampled) or the chosen initial image, and runs the optimiser. Pure: images in,
 * image out; no file or network I/O.
 */
import { NstError } from '../errors.js';
import { transferLuminance } from '../image/colour.js';
import { createEngine as defaultCreateEngine } from './index.js';
import { createOptimiser } from './optim/index.js';
import type { StylizeOptions } from './options.js';
import { resampleHwc, resampleImage, sizeForLongestSide } from './resample.js';
import { planScales, type Scale, scaleWork } from './schedule.js';
import type {
  EngineChoice,
  EngineKind,
  EngineSpec,
  LossAndGradient,
  LossTerms,
  RgbImage,
  StyleEngine,
  StyleImage,
  VggWeights,
} from './types.js';
import { fromNetworkInput, MIN_IMAGE_SIDE, seededRandom, toNetworkInput } from './vgg.js';

export interface StylizeInput {
  /** The content image at the target size (the caller resizes it with a high-quality filter). */
  readonly content: RgbImage;
  /** Style images at any size; each is resized to styleScale x the current scale. */
  readonly styles: readonly StyleImage[];
  /** Starting image for init 'image' (any size). */
  readonly initImage?: RgbImage;
}

/** Where a stopped run was, enough to continue it (in another process, from S3). */
export interface Checkpoint {
  readonly scaleIndex: number;
  /** Iterations already done at that scale. */
  readonly iteration: number;
  /** The current image at that scale, RGB 0..255 (not clamped). */
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
  readonly elapsedSeconds: number;
  readonly etaSeconds: number;
  /** The current image (clamped), every `saveEvery` iterations. */
  readonly image?: RgbImage;
}

export interface StylizeContext {
  readonly weights: VggWeights;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
  /** Continue a run that stopped at this checkpoint. */
  readonly resume?: Checkpoint;
  /** Engine construction (tests inject counting or failing engines). */
  readonly createEngine?: (choice: EngineChoice, spec: EngineSpec) => Promise<StyleEngine>;
}

export interface ScaleReport extends Scale {
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

export function scheduleFor(content: { width: number; height: number }, options: StylizeOptions): Scale[] {
  return planScales({
    width: content.width,
    height: content.height,
    minSize: options.minSize,
    iterations: options.iterations,
  });
}

export async function stylize(
  input: StylizeInput,
  options: StylizeOptions,
  context: StylizeContext,
): Promise<StylizeResult> {
  if (input.styles.length === 0) throw new NstError('INVALID_OPTION', 'at least one style image is required');
  if (options.init === 'image' && !input.initImage) {
    throw new NstError('INVALID_OPTION', "init 'image' needs an initial image");
  }
  const createEngine = context.createEngine ?? defaultCreateEngine;
  const scales = scheduleFor(input.content, options);
  const totalWork = scales.reduce((sum, s) => sum + scaleWork(s), 0);
  const total = scales.reduce((sum, s) => sum + s.iterations, 0);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const reports: ScaleReport[] = [];
  let workDone = 0;
  let done = 0;
  let x: Float32Array | undefined;
  let previous: Scale | undefined;
  let engineKind: EngineKind = 'tfjs';
  let backend = '';
  let initial: LossTerms | undefined;
  let final: LossTerms | undefined;

  const firstScale = context.resume?.scaleIndex ?? 0;
  for (let s = 0; s < firstScale; s++) {
    workDone += scaleWork(scales[s]);
    done += scales[s].iterations;
  }

  for (let s = firstScale; s < scales.length; s++) {
    const scale = scales[s];
    const scaleStart = performance.now();
    const isLast = s === scales.length - 1;
    const engine = await createEngine(options.engine, engineSpec(input, options, scale, context.weights));
    try {
      engineKind = engine.kind;
      backend = engine.backend;
      let startIteration = 0;
      if (context.resume && s === firstScale) {
        startIteration = Math.min(context.resume.iteration, scale.iterations);
        x = toNetworkInput(resampleImage(context.resume.image, scale.width, scale.height));
        workDone += (scaleWork(scale) * startIteration) / scale.iterations;
        done += startIteration;
      } else if (x && previous) {
        x = resampleHwc(x, previous.width, previous.height, scale.width, scale.height);
      } else {
        x = initialImage(input, options, scale);
      }
      if (isLast) {
        initial = (await engine.lossAndGradient(initialImage(input, options, scale))).terms;
      }

      const optimiser = createOptimiser<LossAndGradient>(
        options.optimizer,
        x,
        (v) => engine.lossAndGradient(v),
        options.learningRate === undefined ? {} : { learningRate: options.learningRate },
      );
      let iteration = startIteration;
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
        done++;
        workDone += scaleWork(scale) / scale.iterations;
        last = step.evaluation.terms;
        if (!Number.isFinite(step.evaluation.loss)) {
          throw new NstError('INTERNAL', `the loss diverged at scale ${s + 1}, iteration ${iteration}`);
        }
        context.onProgress?.({
          scaleIndex: s,
          scaleCount: scales.length,
          width: scale.width,
          height: scale.height,
          iteration,
          scaleIterations: scale.iterations,
          done,
          total,
          terms: last,
          elapsedSeconds: elapsed(),
          etaSeconds: workDone > 0 ? (elapsed() * (totalWork - workDone)) / workDone : 0,
          image:
            options.saveEvery > 0 && done % options.saveEvery === 0
              ? clampImage(fromNetworkInput(optimiser.x, scale.width, scale.height))
              : undefined,
        });
        if (step.converged) break;
      }
      x = optimiser.x.slice();
      if (isLast) final = (await engine.lossAndGradient(x)).terms;
      reports.push({
        ...scale,
        iterationsRun: iteration - startIteration,
        seconds: (performance.now() - scaleStart) / 1000,
        final: isLast && final ? final : (last ?? (await engine.lossAndGradient(x)).terms),
      });
      previous = scale;
    } finally {
      engine.dispose();
    }
  }

  if (!x || !initial || !final) throw new NstError('INTERNAL', 'stylize ran no scale');
  let image = clampImage(fromNetworkInput(x, input.content.width, input.content.height));
  if (options.originalColors) image = transferLuminance(image, input.content);
  return {
    image,
    engine: engineKind,
    backend,
    iterations: reports.reduce((sum, r) => sum + r.iterationsRun, 0),
    seconds: elapsed(),
    initial,
    final,
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
  const styleSide = Math.round(options.styleScale * Math.max(scale.width, scale.height));
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
    styles: input.styles.map(({ image, weight }) => {
      // The style's longest side follows the result's; its shorter side never drops under the minimum.
      const shorter = Math.min(image.width, image.height) / Math.max(image.width, image.height);
      const size = sizeForLongestSide(
        image.width,
        image.height,
        Math.max(styleSide, Math.ceil(MIN_IMAGE_SIDE / shorter)),
      );
      return { image: resampleImage(image, size.width, size.height), weight };
    }),
    threads: options.threads,
  };
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

export function clampImage(image: RgbImage): RgbImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, Math.max(0, image.data[i]));
  return { width: image.width, height: image.height, data };
}
