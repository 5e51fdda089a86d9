/**
 * Routing: run a job here, fan its tiles out over Lambda (src/jobs/tiled), hand it to AWS Batch, or refuse
 * it, from the cost model's estimate of the work
 * left (time) and the memory model's estimate of the peak (memory), against what this worker and the Batch
 * job definition have.
 */
import { type CostEstimate, estimateCost } from '../../engine/cost-model.js';
import { extraStyleRegions } from '../../engine/masks.js';
import { estimateMemory, type MemoryInput } from '../../engine/memory-model.js';
import type { StylizeOptions } from '../../engine/options.js';
import { planScales, type Scale } from '../../engine/schedule.js';
import { isTiled, MAX_TILE_SIZE, MIN_TILE_SIZE, TILE_ALIGN } from '../../engine/tiling.js';
import type { EngineKind } from '../../engine/types.js';
import type { DecodedInputs } from '../../stylize-image.js';
import { PIPELINE_DEFAULTS, type PipelineConfig } from '../config.js';

/** Estimates are calibrated means; leave room for a slower run than the estimate. */
export const ESTIMATE_SAFETY_FACTOR = 1.25;
/**
 * A job may plan to use this much of the memory it has: peak RSS varies by up to 25% between identical
 * runs (memory-model.ts), and an OOM kill loses the whole attempt.
 */
export const MEMORY_MARGIN = 0.8;

export type Route =
  | { readonly target: 'here'; readonly seconds: number }
  | { readonly target: 'batch'; readonly seconds: number }
  /** Its untiled scales here, then its tiled ones fanned out; `gbSeconds` is the Lambda time they cost. */
  | { readonly target: 'tiles'; readonly seconds: number; readonly gbSeconds: number }
  | { readonly target: 'too-large'; readonly seconds: number; readonly reason: string };

/** What a job needs (estimates) and what a place to run it has (limits). */
export interface Fit {
  /** The cost model's estimate for the whole job there. */
  readonly estimate: Pick<CostEstimate, 'scales'>;
  /** The memory model's peak there, MB (host RSS here; device memory on Batch). */
  readonly peakMb: number;
  /** Seconds it has for the job (here: after the deadline margin); undefined: no deadline. */
  readonly availableSeconds?: number;
  /** Memory it has, MB; undefined: no limit known. */
  readonly memoryMb?: number;
}

export interface RouteInput {
  /** This worker: the Lambda function, the Batch worker, or local mode. */
  readonly here: Fit;
  /** The Batch GPU path, when configured: time there, GPU memory, the job definition's timeout. */
  readonly batch?: Fit;
  /** The tiles' fan-out, when deployed and the job has tiled scales: a tile's fit on the tile function. */
  readonly tiles?: TilesFit;
  /** Where a previous run stopped, when continuing. */
  readonly resume?: { readonly scaleIndex: number; readonly iteration: number };
}

/** The fan-out: a tile on one tile function, and the cost cap a job's Lambda time must stay under. */
export interface TilesFit extends Fit {
  readonly memoryMb: number;
  readonly maxGbSeconds: number;
  /** The longest tile task (cost-model.ts tileRoundSeconds), against the function's timeout. */
  readonly tileTaskSeconds: number;
  readonly functionTimeoutSeconds: number;
}

/**
 * The wall time of a fanned-out job with `concurrency` tile tasks at once: its untiled scales in one
 * worker, each tiled scale's tile-seconds spread over its tiles (a round waits for its slowest tile).
 */
export function tilesWallSeconds(estimate: Pick<CostEstimate, 'scales'>, concurrency: number): number {
  return estimate.scales.reduce(
    (sum, scale) => sum + (scale.tiles ? scale.seconds / Math.min(scale.tiles, concurrency) : scale.seconds),
    0,
  );
}

/** Lambda's x86 price per GB-second (docs/design/tiled-route.md, section 5): what a cap's refusal quotes. */
const LAMBDA_DOLLARS_PER_GB_SECOND = 0.0000166667;

/** Estimated seconds of the work after `resume` (all of it without one). */
export function remainingSeconds(
  estimate: Pick<CostEstimate, 'scales'>,
  resume?: RouteInput['resume'],
): number {
  return estimate.scales.reduce((sum, scale, i) => {
    if (!resume || i > resume.scaleIndex) return sum + scale.seconds;
    if (i < resume.scaleIndex) return sum;
    return sum + scale.seconds * (1 - Math.min(resume.iteration, scale.iterations) / scale.iterations);
  }, 0);
}

const fitsTime = (seconds: number, fit: Fit) =>
  fit.availableSeconds === undefined || seconds * ESTIMATE_SAFETY_FACTOR <= fit.availableSeconds;
const fitsMemory = (fit: Fit) => fit.memoryMb === undefined || fit.peakMb <= fit.memoryMb * MEMORY_MARGIN;

/**
 * A job with tiled scales, where the fan-out is deployed and a tile fits its memory: the tiles route,
 * under the cost cap. Else fits here in time and memory: run here. Else Batch when configured and the job fits its GPU memory and
 * timeout. Else a continuation that fits the memory keeps going (it checkpoints again at the next deadline,
 * up to the continuation limit), and anything else is refused at once, naming both estimates.
 */
export function chooseRoute(input: RouteInput): Route {
  const { here, batch, tiles, resume } = input;
  const seconds = remainingSeconds(here.estimate, resume);
  // Tiled scales fan out wherever the fan-out is deployed: their tiles run in parallel.
  const fanOut = tiles && fitsMemory(tiles) ? tilesRoute(tiles, resume) : undefined;
  if (fanOut?.target === 'tiles') return fanOut;
  const batchSeconds = batch ? remainingSeconds(batch.estimate, resume) : undefined;
  const fitsBatch = batch && batchSeconds !== undefined && fitsTime(batchSeconds, batch) && fitsMemory(batch);
  // Over the cost cap: on Batch if it fits there, else refused naming the cap (more Lambda time is no cheaper).
  if (fanOut) return fitsBatch ? { target: 'batch', seconds: batchSeconds } : fanOut;
  if (fitsTime(seconds, here) && fitsMemory(here)) return { target: 'here', seconds };
  if (fitsBatch) return { target: 'batch', seconds: batchSeconds };
  if (resume && fitsMemory(here)) return { target: 'here', seconds };
  return { target: 'too-large', seconds, reason: tooLargeReason(seconds, here, batch, batchSeconds) };
}

/**
 * The fan-out, unless a tile task would outlast the function (each runs one round of one tile in one
 * invocation) or its estimated Lambda time is over the cost cap: then refused, naming both.
 */
function tilesRoute(tiles: TilesFit, resume: RouteInput['resume']): Route {
  const seconds = remainingSeconds(tiles.estimate, resume);
  const task = tiles.tileTaskSeconds;
  if (task * ESTIMATE_SAFETY_FACTOR > tiles.functionTimeoutSeconds) {
    return {
      target: 'too-large',
      seconds,
      reason:
        `a round of one of the job's tiles needs about ${s(task)} on the tile function, over ` +
        `${s(tiles.functionTimeoutSeconds / ESTIMATE_SAFETY_FACTOR)} of its ${s(tiles.functionTimeoutSeconds)} ` +
        'timeout: lower the tile size',
    };
  }
  const gbSeconds = (seconds * tiles.memoryMb) / 1024;
  if (gbSeconds <= tiles.maxGbSeconds) return { target: 'tiles', seconds, gbSeconds };
  const dollars = (n: number) => `$${(n * LAMBDA_DOLLARS_PER_GB_SECOND).toFixed(2)}`;
  return {
    target: 'too-large',
    seconds,
    reason:
      `the job's tiles need about ${Math.round(gbSeconds)} GB-s of Lambda time (about ${dollars(gbSeconds)}), ` +
      `over the cost cap of ${tiles.maxGbSeconds} GB-s (${dollars(tiles.maxGbSeconds)}, NST_MAX_JOB_GB_SECONDS): ` +
      'lower size or iterations, or raise the cap',
  };
}

const mb = (n: number) => `${Math.round(n)} MB`;
const s = (n: number) => `${Math.round(n)} s`;

/** Both estimates against both limits, and what to change. */
function tooLargeReason(seconds: number, here: Fit, batch?: Fit, batchSeconds?: number): string {
  const parts = [`the job needs about ${s(seconds)} and ${mb(here.peakMb)} of memory here`];
  const limits = [
    ...(here.availableSeconds === undefined
      ? []
      : [`${s(here.availableSeconds / ESTIMATE_SAFETY_FACTOR)} of its ${s(here.availableSeconds)}`]),
    ...(here.memoryMb === undefined
      ? []
      : [`${mb(here.memoryMb * MEMORY_MARGIN)} of its ${mb(here.memoryMb)}`]),
  ];
  if (limits.length > 0) parts[0] += ` (a job here may use ${limits.join(' and ')})`;
  if (batch && batchSeconds !== undefined) {
    const batchLimits = [
      ...(batch.availableSeconds === undefined
        ? []
        : [
            `${s(batch.availableSeconds / ESTIMATE_SAFETY_FACTOR)} of its ${s(batch.availableSeconds)} timeout`,
          ]),
      ...(batch.memoryMb === undefined
        ? []
        : [`${mb(batch.memoryMb * MEMORY_MARGIN)} of the GPU's ${mb(batch.memoryMb)}`]),
    ];
    parts.push(
      `on AWS Batch about ${s(batchSeconds)} and ${mb(batch.peakMb)} of GPU memory` +
        (batchLimits.length > 0 ? ` (a Batch job may use ${batchLimits.join(' and ')})` : ''),
    );
  } else {
    parts.push('AWS Batch is not configured for large jobs');
  }
  return `${parts.join('; ')}: lower size, iterations or the number of styles`;
}

/** A job as the models see it: the result's size, the styles and inputs as decoded, the options. */
export type JobShape = Omit<MemoryInput, 'engine' | 'gpu' | 'options'> & {
  readonly options: MemoryInput['options'] & Pick<StylizeOptions, 'minSize' | 'scaleGrowth'>;
  /** Style regions beyond the first (style masks), which cost time at every iteration. */
  readonly extraRegions?: number;
  /** The run's scale plan, when it is planned already (else the cost model plans it from the options). */
  readonly scales?: readonly Scale[];
};

/**
 * The shape of a job whose inputs are decoded (every decoded image counts, at its own size), for a result
 * of `size` (resultSize() of the content).
 */
export function jobShape(
  decoded: DecodedInputs,
  options: StylizeOptions,
  size: { readonly width: number; readonly height: number },
  scales?: readonly Scale[],
): JobShape {
  const styles = decoded.styles.map((s) => s.image);
  const masks = decoded.styles.flatMap((s) => (s.mask ? [s.mask] : []));
  // --color-match keeps a matched copy of each style beside the decoded one.
  const matched = options.colorMatch ? styles : [];
  const images = [
    decoded.content,
    ...styles,
    ...masks,
    ...matched,
    ...(decoded.initImage ? [decoded.initImage] : []),
  ];
  return {
    width: size.width,
    height: size.height,
    ...(scales ? { scales } : {}),
    styles,
    inputPixels: images.reduce((sum, image) => sum + image.width * image.height, 0),
    options,
    extraRegions: extraStyleRegions(decoded.styles),
  };
}

/** What a place to run a job has: its engine and cores, its time and memory. */
interface WorkerCapacity {
  readonly engine: EngineKind;
  readonly threads: number;
  readonly gpu?: boolean;
  readonly availableSeconds?: number;
  readonly memoryMb?: number;
}

/**
 * The memory a tiled job is planned in, MiB, wherever it runs (the CLI, local mode, a Lambda tile): its
 * default tiles are the largest with which its peak fits this with the margin. One size for every runner
 * keeps their plans, and so their pictures, the same; this one holds a 4096 px run under 4 GB, and spreads
 * a large job's tiles over more Lambda workers at once than tiles filling a 10 GB function would.
 */
export const TILE_MEMORY_MB = 4096;

/**
 * The tile size of a job whose spec names none: none (the job runs untiled) when the whole job fits
 * `memoryMb` with the margin, else the largest tile, on the tiles' lattice, with which it fits both
 * `memoryMb` and TILE_MEMORY_MB; none when not even the smallest does (routing then refuses it, naming the
 * estimate).
 */
export function tileSizeToFit(job: JobShape, engine: EngineKind, memoryMb: number): number | undefined {
  const fits = (tileSize: number | undefined, mb: number) =>
    estimateMemory({ ...job, engine, options: { ...job.options, tileSize } }).peakMb <= mb * MEMORY_MARGIN;
  if (fits(undefined, memoryMb)) return undefined;
  const budget = Math.min(memoryMb, TILE_MEMORY_MB);
  for (let size = MAX_TILE_SIZE; size >= MIN_TILE_SIZE; size -= TILE_ALIGN)
    if (fits(size, budget)) return size;
  return undefined;
}

/**
 * The options with a tile size: the one they name, else (the onnx engine only: tfjs optimises whole
 * images) the one tileSizeToFit gives for the decoded inputs at `size` in `memoryMb`.
 */
export function withTileSizeToFit<T extends StylizeOptions>(
  decoded: DecodedInputs,
  options: T,
  engine: EngineKind,
  size: { readonly width: number; readonly height: number },
  memoryMb: number,
): T {
  if (options.tileSize !== undefined || engine !== 'onnx') return options;
  const tileSize = tileSizeToFit(jobShape(decoded, options, size), engine, memoryMb);
  return tileSize === undefined ? options : { ...options, tileSize };
}

/** The time and memory a job needs on a worker (device memory on a GPU), against what it has. */
export function fitOn(job: JobShape, worker: WorkerCapacity): Fit {
  const { engine, threads, gpu } = worker;
  const memory = estimateMemory({ ...job, engine, gpu });
  return {
    estimate: estimateCost({
      width: job.width,
      height: job.height,
      options: job.options,
      engine,
      threads,
      gpu,
      extraRegions: job.extraRegions,
      scales: job.scales,
      tileSize: job.options.tileSize,
    }),
    peakMb: gpu ? (memory.gpuMb ?? memory.peakMb) : memory.peakMb,
    availableSeconds: worker.availableSeconds,
    memoryMb: worker.memoryMb,
  };
}

/**
 * A job with tiled scales on the tile function (the function's memory; its timeout bounds one tile task,
 * not the job), with the cost cap; undefined for a job without tiled scales.
 */
export function tilesFit(
  job: JobShape,
  worker: {
    readonly engine: EngineKind;
    readonly threads: number;
    readonly config: Pick<PipelineConfig, 'memoryMb' | 'maxJobGbSeconds' | 'functionTimeoutSeconds'>;
  },
): TilesFit | undefined {
  const { tileSize } = job.options;
  const scales = job.scales ?? planScales({ width: job.width, height: job.height, ...job.options });
  if (tileSize === undefined || !scales.some((scale) => isTiled(scale, tileSize))) return undefined;
  const { engine, threads, config } = worker;
  const fit = fitOn(job, { engine, threads, memoryMb: config.memoryMb });
  return {
    ...fit,
    memoryMb: config.memoryMb,
    maxGbSeconds: config.maxJobGbSeconds,
    tileTaskSeconds: Math.max(0, ...fit.estimate.scales.map((scale) => scale.tileRoundSeconds ?? 0)),
    functionTimeoutSeconds: config.functionTimeoutSeconds,
  };
}

/** The Batch GPU worker: the onnx engine on CUDA (infra: BATCH_ENGINE), one job per GPU. */
export function batchFit(
  job: JobShape,
  config: Pick<PipelineConfig, 'batchTimeoutSeconds' | 'batchGpuMemoryMb'>,
): Fit {
  return fitOn(job, {
    engine: 'onnx',
    threads: 1,
    gpu: true,
    availableSeconds: config.batchTimeoutSeconds,
    memoryMb: config.batchGpuMemoryMb,
  });
}

/**
 * The stack's defaults, for `nst stylize --dry-run` (infra/config.ts DEFAULT_CONFIG: memory 10240, timeout
 * 900, batch on): a 10240 MB function has 6 vCPUs and runs the onnx engine.
 */
const DEPLOYED_LAMBDA = {
  memoryMb: PIPELINE_DEFAULTS.memoryMb,
  timeoutSeconds: PIPELINE_DEFAULTS.functionTimeoutSeconds,
  vcpus: 6,
} as const;

/** The route the deployed pipeline (default stack settings) would take for a new job. */
export function deployedRoute(job: JobShape): { route: Route; lambda: Fit; batch: Fit; tiles?: TilesFit } {
  const worker = { engine: 'onnx', threads: DEPLOYED_LAMBDA.vcpus } as const;
  const tiles = tilesFit(job, { ...worker, config: PIPELINE_DEFAULTS });
  const lambda = fitOn(job, {
    ...worker,
    availableSeconds: DEPLOYED_LAMBDA.timeoutSeconds - PIPELINE_DEFAULTS.deadlineMarginSeconds,
    memoryMb: DEPLOYED_LAMBDA.memoryMb,
  });
  const batch = batchFit(job, PIPELINE_DEFAULTS);
  return { route: chooseRoute({ here: lambda, batch, tiles }), lambda, batch, ...(tiles ? { tiles } : {}) };
}
