/**
 * What `nst stylize` does (its flags are in commands/stylize.ts): one photo and one or more paintings in,
 * one stylised image out. Validates everything (options, images, output format, weights) before the long
 * run, shows progress on a terminal, and writes the result atomically only when the run succeeded.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { type CostEstimate, estimateCost } from '../engine/cost-model.js';
import { availableEngines, resolveEngineKind } from '../engine/index.js';
import { type StylizeOptions, stylizeOptionsSchema } from '../engine/options.js';
import { planScales } from '../engine/schedule.js';
import type { StylizeResult } from '../engine/stylize.js';
import { defaultThreads } from '../engine/threads.js';
import { tilesOfScales } from '../engine/tiling.js';
import type { EngineKind, RgbImage, VggWeights } from '../engine/types.js';
import { NstError } from '../errors.js';
import { encodeImage, outputFormatFromPath, writeFileAtomic } from '../image/encode.js';
import type { OutputFormat } from '../image/formats.js';
import { PIPELINE_DEFAULTS } from '../jobs/config.js';
import {
  deployedRoute,
  type Fit,
  jobShape,
  remainingSeconds,
  type TilesFit,
  tilesWallSeconds,
  withTileSizeToFit,
} from '../jobs/run/routing.js';
import {
  capacityHere,
  parseTileWorkers,
  peakWithWorkers,
  type TileWorkersWanted,
  tileWorkersFor,
  withTileWorkers,
} from '../jobs/run/tile-pool.js';
import {
  type DecodedInputs,
  decodeInputs,
  type ImageInputs,
  type ImageSource,
  type OutputSettings,
  resultSize,
  stylizeDecodedImage,
} from '../stylize-image.js';
import { camelToKebab } from '../text.js';
import { describeIssues } from '../validation.js';
import { resolveWeightsDir } from '../weights/lookup.js';
import { loadWeights } from '../weights/store.js';
import type { MaskArg, StylizeFlags } from './commands/stylize.js';
import { type ProgressView, progressBar } from './progress-bar.js';
import { pickStylizeOptions } from './stylize-flags.js';

export interface StyleArg {
  readonly path: string;
  readonly weight: number;
  /** The --style-mask that followed this --style. */
  readonly mask?: string;
}

/** Each mask given to the --style before it; INVALID_OPTION for a mask with no style before it or a second one. */
export function attachMasks(styles: readonly StyleArg[], masks: readonly MaskArg[]): StyleArg[] {
  const byStyle = new Map<number, string>();
  for (const mask of masks) {
    const index = mask.stylesBefore - 1;
    if (index < 0) {
      throw new NstError(
        'INVALID_OPTION',
        `--style-mask ${mask.path} has no --style before it: put each mask after its style ` +
          `(-s starry.jpg --style-mask sky.png)`,
      );
    }
    const other = byStyle.get(index);
    if (other !== undefined) {
      throw new NstError(
        'INVALID_OPTION',
        `--style ${styles[index].path} has two masks (${other} and ${mask.path}): one --style-mask per style`,
      );
    }
    byStyle.set(index, mask.path);
  }
  return styles.map((s, i) => (byStyle.has(i) ? { ...s, mask: byStyle.get(i) } : s));
}

/** "painting.jpg" or "painting.jpg:0.3" (the weight after the last colon, when it is a number). */
export function parseStyleArg(arg: string): StyleArg {
  const match = /^(.*):([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)$/i.exec(arg);
  if (match && match[1] !== '') return { path: match[1], weight: Number(match[2]) };
  return { path: arg, weight: 1 };
}

/** Validated stylize options from flags, or an INVALID_OPTION error listing every problem. */
function validateOptions(flags: Record<string, unknown>): StylizeOptions {
  const parsed = stylizeOptionsSchema.safeParse(pickStylizeOptions(flags));
  if (!parsed.success) {
    throw new NstError(
      'INVALID_OPTION',
      `invalid options:\n  ${describeIssues(parsed.error, (p) => `--${camelToKebab(String(p[0]))}${p.length > 1 ? `[${p.slice(1).join('.')}]` : ''}`).join('\n  ')}`,
    );
  }
  return parsed.data;
}

export async function runStylize(flags: StylizeFlags): Promise<void> {
  const given = stylizeRequest(flags);
  const decoded = await decodeInputs(given.input, given.output);
  const engine = await resolveEngineKind(given.options.engine);
  const options = withDefaultTileSize(decoded, given.options, engine);
  const workers = workersOf(decoded, options, engine, given.workers);
  const request = { ...given, options, workers };
  if (flags.dryRun) {
    printPlan(await plan(decoded, request.options, engine, workers), Boolean(flags.json));
    return;
  }
  const weights = await loadWeights(resolveWeightsDir({ flag: flags.weights }));
  const showBar = flags.progress !== false && !flags.json && process.stderr.isTTY;
  const result = await stylizeToFile(request, decoded, weights, showBar ? progressBar() : undefined);
  report(result, request, Boolean(flags.json));
}

/** The tile workers of this run: as asked or, by default, what this machine allows (tileWorkersFor). */
function workersOf(
  decoded: DecodedInputs,
  options: StylizeOptions,
  engine: EngineKind,
  wanted: TileWorkersWanted,
): number {
  const job = jobShape(decoded, options, resultSize(decoded.content, options));
  return tileWorkersFor(wanted, job, engine, capacityHere(options.threads));
}

/**
 * Without --tile-size, a run too large to fit a default Lambda function whole (the stack's memory) gets the
 * largest tiles that do, as the pipeline would give it: the CLI and the pipeline run the same plan.
 */
function withDefaultTileSize(
  decoded: DecodedInputs,
  options: StylizeOptions,
  engine: EngineKind,
): StylizeOptions {
  const size = resultSize(decoded.content, options);
  return withTileSizeToFit(decoded, options, engine, size, PIPELINE_DEFAULTS.memoryMb);
}

/** Everything a run needs, checked before any image is decoded. */
interface StylizeRequest {
  readonly options: StylizeOptions;
  /** Tile workers (`--workers`): as asked until the inputs are decoded, then a number. */
  readonly workers: TileWorkersWanted;
  readonly input: ImageInputs;
  readonly output: OutputSettings;
  readonly outputPath: string;
  readonly frames: FrameFiles;
}

function stylizeRequest(flags: StylizeFlags): StylizeRequest {
  const options = validateOptions(flags);
  const format = outputFormatFromPath(flags.output);
  checkQualityFlag(flags.quality);
  const styles = attachMasks(flags.style.map(parseStyleArg), flags.styleMask ?? []);
  if (options.init === 'image' && !flags.initImage)
    throw new NstError('INVALID_OPTION', '--init image needs --init-image <image>');
  const outputPath = path.resolve(flags.output);
  const inputs = [
    flags.content,
    ...styles.flatMap((s) => (s.mask ? [s.path, s.mask] : [s.path])),
    ...(flags.initImage ? [flags.initImage] : []),
  ];
  const frames = new FrameFiles(outputPath);
  checkInputsSafe(inputs, flags.output, options.saveEvery > 0 ? frames : undefined);
  const source = (p: string): ImageSource => ({ data: p, name: p });
  const input = {
    content: source(flags.content),
    styles: styles.map((s) => ({
      source: source(s.path),
      weight: s.weight,
      ...(s.mask ? { mask: source(s.mask) } : {}),
    })),
    initImage: flags.initImage ? source(flags.initImage) : undefined,
  };
  const output = { format, quality: flags.quality, keepAlpha: flags.keepAlpha };
  const workers = parseTileWorkers(flags.workers);
  return { options, input, output, outputPath, frames, workers };
}

function checkQualityFlag(quality: number | undefined): void {
  if (quality !== undefined && !(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
    throw new NstError('INVALID_OPTION', `--quality must be an integer from 1 to 100 (got ${quality})`);
  }
}

/** Inputs are never overwritten: neither by the output nor by its frames (when frames are written). */
function checkInputsSafe(inputs: readonly string[], output: string, frames: FrameFiles | undefined): void {
  const outputPath = path.resolve(output);
  if (inputs.some((p) => path.resolve(p) === outputPath)) {
    throw new NstError(
      'INVALID_OPTION',
      `the output ${output} is one of the inputs; inputs are never overwritten`,
    );
  }
  const framed = frames && inputs.find((p) => frames.isFrame(path.resolve(p)));
  if (framed) {
    throw new NstError(
      'INVALID_OPTION',
      `--save-every would write frames over the input ${framed}; choose another -o`,
    );
  }
}

/** Stylises and writes the result (and its frames) atomically; a failed run leaves no frames behind. */
async function stylizeToFile(
  request: StylizeRequest & { readonly workers: number },
  decoded: DecodedInputs,
  weights: VggWeights,
  bar: ProgressView | undefined,
): Promise<StylizeResult> {
  const { options, output, outputPath, frames } = request;
  const pool = { workers: request.workers, threads: options.threads ?? defaultThreads(), weights };
  try {
    const stylized = await withTileWorkers(pool, (tileRunner) =>
      stylizeDecodedImage(decoded, options, output, {
        weights,
        tileRunner,
        onProgress: (p) => {
          bar?.update({ ...p, loss: p.terms });
          if (p.image) frames.write(p.done, p.image, output.format);
        },
      }),
    );
    await frames.settled();
    await mkdir(path.dirname(outputPath), { recursive: true });
    await writeFileAtomic(outputPath, stylized.output);
    return stylized.result;
  } catch (error) {
    await frames.removeAll();
    throw error;
  } finally {
    bar?.stop();
  }
}

/** The run summary: one JSON object on stdout with --json, else one line on stderr. */
function report(result: StylizeResult, request: StylizeRequest, json: boolean): void {
  const { outputPath } = request;
  const tiles = tilesOfScales(result.scales, request.options.tileSize);
  const summary = {
    output: outputPath,
    engine: result.engine,
    backend: result.backend,
    width: result.image.width,
    height: result.image.height,
    iterations: result.iterations,
    seconds: Number(result.seconds.toFixed(2)),
    initial: result.initial,
    final: result.final,
    scales: result.scales.map((s) => ({
      width: s.width,
      height: s.height,
      iterations: s.iterationsRun,
      seconds: Number(s.seconds.toFixed(2)),
    })),
    ...(tiles.length > 0 ? { tiles } : {}),
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stderr.write(
      `wrote ${outputPath} (${summary.width}x${summary.height}, ${summary.iterations} iterations on ${result.backend}, ${summary.seconds} s; ` +
        `style loss ${ratio(result.initial.style, result.final.style)} lower, total ${ratio(result.initial.total, result.final.total)} lower)\n`,
    );
  }
}

const ratio = (before: number, after: number) =>
  after > 0 ? `${(before / after).toFixed(1)}x` : 'infinitely';

/**
 * Intermediate frames beside the output (out.jpg -> out.0050.jpg), written in the background while the
 * run goes on. A failed write fails the run; a failed run removes the frames it wrote (no partial outputs).
 */
class FrameFiles {
  private readonly base: string;
  private readonly ext: string;
  private readonly writes: Promise<string>[] = [];

  constructor(outputPath: string) {
    this.ext = path.extname(outputPath);
    this.base = outputPath.slice(0, outputPath.length - this.ext.length);
  }

  path(iteration: number): string {
    return `${this.base}.${String(iteration).padStart(4, '0')}${this.ext}`;
  }

  isFrame(file: string): boolean {
    return (
      file.startsWith(`${this.base}.`) &&
      file.endsWith(this.ext) &&
      /^\d{4,}$/.test(file.slice(this.base.length + 1, file.length - this.ext.length))
    );
  }

  write(iteration: number, image: RgbImage, format: OutputFormat): void {
    const file = this.path(iteration);
    const done = encodeImage(image, { format })
      .then((b) => writeFileAtomic(file, b))
      .then(() => file);
    done.catch(() => {}); // observed in settled(); never an unhandled rejection meanwhile
    this.writes.push(done);
  }

  /** Waits for every write; throws the first failure. */
  async settled(): Promise<void> {
    const failed = (await Promise.allSettled(this.writes)).find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async removeAll(): Promise<void> {
    const written = await Promise.allSettled(this.writes);
    await Promise.all(
      written.map((r) => (r.status === 'fulfilled' ? rm(r.value, { force: true }) : undefined)),
    );
  }
}

interface Plan {
  width: number;
  height: number;
  engine: EngineKind;
  available: EngineKind[];
  threads: number;
  estimates: Record<string, { seconds: number; scales: CostEstimate['scales'] }>;
  /** Every tile of every tiled scale, in that scale's pixels (absent untiled). */
  tiles?: ReturnType<typeof tilesOfScales>;
  /** Tile workers: the tiles that run at once (with tiles). */
  workers?: number;
  /** The memory model's peak RSS of this run (the engine above), MB. */
  peakMemoryMb: number;
  /** The route the deployed pipeline would take with the stack's defaults. */
  awsRoute: 'lambda' | 'batch' | 'tiles' | 'too-large';
  aws: {
    lambda: { seconds: number; peakMemoryMb: number; availableSeconds: number; memoryMb: number };
    /** The fan-out (tiled jobs): tile-seconds, wall time at the stack's concurrency, Lambda GB-seconds. */
    tiles?: {
      seconds: number;
      wallSeconds: number;
      concurrency: number;
      peakMemoryMb: number;
      gbSeconds: number;
      maxGbSeconds: number;
    };
    batch: { seconds: number; gpuMemoryMb: number; timeoutSeconds: number; gpuMemoryLimitMb: number };
    reason?: string;
  };
}

const AWS_ROUTES = { here: 'lambda', batch: 'batch', tiles: 'tiles', 'too-large': 'too-large' } as const;

async function plan(
  decoded: DecodedInputs,
  options: StylizeOptions,
  engine: EngineKind,
  workers: number,
): Promise<Plan> {
  const { width, height } = resultSize(decoded.content, options);
  const threads = options.threads ?? defaultThreads();
  const available = await availableEngines();
  const shape = jobShape(decoded, options, { width, height });
  const estimates: Plan['estimates'] = {};
  // Tiles run on the onnx engine only (the tfjs engine refuses them).
  for (const kind of available.filter((k) => !options.tileSize || k === 'onnx')) {
    const { extraRegions } = shape;
    const { tileSize } = options;
    const costing = { width, height, options, engine: kind, threads, extraRegions, tileSize };
    const { seconds, scales } = estimateCost(costing);
    estimates[kind] = {
      seconds: Math.round(seconds),
      scales: scales.map((s) => ({ ...s, seconds: Number(s.seconds.toFixed(1)) })),
    };
  }
  const deployed = deployedRoute(shape);
  const tiles = tilesOfScales(planScales({ width, height, ...options }), options.tileSize);
  const seconds = (fit: Fit) => Math.round(remainingSeconds(fit.estimate));
  return {
    width,
    height,
    engine,
    available,
    threads,
    estimates,
    ...(tiles.length > 0 ? { tiles, workers } : {}),
    peakMemoryMb: peakWithWorkers(shape, engine, tiles.length > 0 ? workers : 1),
    awsRoute: AWS_ROUTES[deployed.route.target],
    aws: {
      lambda: {
        seconds: seconds(deployed.lambda),
        peakMemoryMb: deployed.lambda.peakMb,
        availableSeconds: deployed.lambda.availableSeconds!,
        memoryMb: deployed.lambda.memoryMb!,
      },
      batch: {
        seconds: seconds(deployed.batch),
        gpuMemoryMb: deployed.batch.peakMb,
        timeoutSeconds: deployed.batch.availableSeconds!,
        gpuMemoryLimitMb: deployed.batch.memoryMb!,
      },
      ...(deployed.tiles ? { tiles: fanOut(deployed.tiles) } : {}),
      ...(deployed.route.target === 'too-large' ? { reason: deployed.route.reason } : {}),
    },
  };
}

/** The fan-out's estimates at the stack's defaults. */
function fanOut(tiles: TilesFit): NonNullable<Plan['aws']['tiles']> {
  const seconds = remainingSeconds(tiles.estimate);
  const concurrency = PIPELINE_DEFAULTS.tileConcurrency;
  return {
    seconds: Math.round(seconds),
    wallSeconds: Math.round(tilesWallSeconds(tiles.estimate, concurrency)),
    concurrency,
    peakMemoryMb: tiles.peakMb,
    gbSeconds: Math.round((seconds * tiles.memoryMb) / 1024),
    maxGbSeconds: tiles.maxGbSeconds,
  };
}

function printPlan(p: Plan, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ dryRun: true, ...p })}\n`);
    return;
  }
  const lines = [
    `plan: ${p.width}x${p.height}, engine ${p.engine}, ${p.threads} threads${p.workers ? ` in ${p.workers} tile worker${p.workers === 1 ? '' : 's'}` : ''}, peak memory about ${p.peakMemoryMb} MB`,
  ];
  for (const [engine, e] of Object.entries(p.estimates)) {
    lines.push(`  ${engine}: about ${e.seconds} s`);
    for (const s of e.scales) {
      const tiled = s.tiles ? ` as ${s.tiles} tiles in ${s.rounds} rounds` : '';
      lines.push(`    ${s.width}x${s.height} x ${s.iterations} iterations${tiled}: ${s.seconds} s`);
    }
  }
  const { lambda, batch } = p.aws;
  lines.push(
    `deployed pipeline (default stack): ${p.awsRoute}`,
    `  Lambda: about ${lambda.seconds} s of ${lambda.availableSeconds} s, ${lambda.peakMemoryMb} MB of ${lambda.memoryMb} MB`,
    `  AWS Batch GPU: about ${batch.seconds} s of ${batch.timeoutSeconds} s, ${batch.gpuMemoryMb} MB of ${batch.gpuMemoryLimitMb} MB GPU memory`,
    ...(p.aws.tiles
      ? [
          `  Lambda tiles: about ${p.aws.tiles.seconds} tile-seconds, ${p.aws.tiles.wallSeconds} s wall at ` +
            `${p.aws.tiles.concurrency} at once, ${p.aws.tiles.peakMemoryMb} MB a tile, ` +
            `${p.aws.tiles.gbSeconds} GB-s of the ${p.aws.tiles.maxGbSeconds} GB-s cap`,
        ]
      : []),
    ...(p.aws.reason ? [`  refused: ${p.aws.reason}`] : []),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
