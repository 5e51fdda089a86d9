/**
 * `npm run bench -- --tiles`: tiles against the untiled run (issue 19's quality and cost checks), on pairs
 * of ../shared/images, each run `nst stylize` in its own process with the real weights:
 * - losses: both results evaluated once, whole, on one untiled engine at the result's size;
 * - seams: along every overlap band of the tile plan, the mean absolute gradient across lines inside the
 *   band over the same in the two tiles' centres, for the tiled result, beside the same ratio at the same
 *   lines of the untiled result; and the line near a band that stands out most against the untiled one;
 * - style shift: the mean colour of each tile's centre against the same region of the untiled result;
 * - seconds and peak RSS of each run;
 * and, from the cost model (no run), the fan-out's tile-seconds, wall time and Lambda cost at 2048 and
 * 4096 px for 10, 50 and 100 tiles at once. With --time-sizes, the wall time on this machine with 1 and 2
 * tile workers (timeOnMachine).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { estimateCost } from '../src/engine/cost-model.js';
import { createEngine } from '../src/engine/index.js';
import { stylizeOptionsSchema } from '../src/engine/options.js';
import { engineSpec } from '../src/engine/scale-spec.js';
import { planScales } from '../src/engine/schedule.js';
import { planTiles, TILE_ROUND_ITERATIONS, type TilePlan, tileWeights } from '../src/engine/tiling.js';
import type { LossTerms, RgbImage } from '../src/engine/types.js';
import { toNetworkInput } from '../src/engine/vgg.js';
import { decodeImage } from '../src/image/decode.js';
import { PIPELINE_DEFAULTS } from '../src/jobs/config.js';
import {
  deployedRoute,
  jobShape,
  remainingSeconds,
  tileSizeToFit,
  tilesWallSeconds,
} from '../src/jobs/run/routing.js';
import { decodeInputs, resultSize, stylizeInputOf } from '../src/stylize-image.js';
import { loadWeights } from '../src/weights/store.js';
import type { Pair } from './e2e.js';

const run = promisify(execFile);

export interface TilesSetup {
  readonly nst: string;
  readonly shared: string;
  readonly threads: string;
  readonly outDir: string;
  readonly size: number;
  readonly tileSize: number;
}

interface TilesRun {
  readonly wallSeconds: number;
  readonly peakRssMb: number;
  readonly output: string;
}

export interface TilesPair extends Pair {
  readonly untiled: TilesRun & { readonly loss: LossTerms };
  readonly tiled: TilesRun & { readonly loss: LossTerms };
  /** Per overlap band: the tiled result's band/centre gradient ratio over the untiled one's. */
  readonly seamRatios: readonly number[];
  /** The most a single line near a band stands out: its gradient over the untiled line's, at most. */
  readonly worstLine: number;
  /** The largest difference of a tile centre's mean colour, in levels (0..255). */
  readonly colourShift: number;
}

const imagesOf = (setup: TilesSetup, pair: Pair) => {
  const images = path.join(setup.shared, 'images');
  return {
    content: path.join(images, 'content', `${pair.content}.jpg`),
    style: path.join(images, 'style', `${pair.style}.jpg`),
  };
};

async function stylizeOnce(
  setup: TilesSetup,
  pair: Pair,
  tileSize: number,
  name: string,
  flags: readonly string[] = ['--size', String(setup.size)],
): Promise<TilesRun> {
  const { content, style } = imagesOf(setup, pair);
  const output = path.join(setup.outDir, `${pair.content}-${pair.style}-${name}.png`);
  const args = [
    setup.nst,
    'stylize',
    ...['--content', content, '--style', style, '-o', output],
    ...[...flags, '--tile-size', String(tileSize), '--threads', setup.threads],
    ...['--engine', 'onnx', '--weights', path.join(setup.shared, 'models/vgg19'), '--json'],
  ];
  const started = performance.now();
  // /usr/bin/time -f %M reports the peak RSS in KB on stderr.
  const { stderr } = await run('/usr/bin/time', ['-f', '%M', process.execPath, ...args], {
    maxBuffer: 1 << 20,
  });
  return {
    wallSeconds: (performance.now() - started) / 1000,
    peakRssMb: Math.round(Number(stderr.trim().split('\n').pop()) / 1024),
    output,
  };
}

/** Both results' loss terms, each evaluated once, whole, by one engine at the result's size. */
async function wholeLosses(
  setup: TilesSetup,
  pair: Pair,
  results: readonly RgbImage[],
): Promise<LossTerms[]> {
  const { content, style } = imagesOf(setup, pair);
  const options = stylizeOptionsSchema.parse({
    size: setup.size,
    engine: 'onnx',
    threads: Number(setup.threads),
  });
  const decoded = await decodeInputs(
    {
      content: { data: content, name: content },
      styles: [{ source: { data: style, name: style }, weight: 1 }],
    },
    { format: 'png' },
  );
  const { width, height } = results[0];
  const input = await stylizeInputOf(decoded, options, { width, height });
  const weights = await loadWeights(path.join(setup.shared, 'models/vgg19'));
  const engine = await createEngine(
    'onnx',
    engineSpec(input, options, { width, height, iterations: 1 }, weights),
  );
  try {
    const terms: LossTerms[] = [];
    for (const image of results) terms.push((await engine.lossAndGradient(toNetworkInput(image))).terms);
    return terms;
  } finally {
    engine.dispose();
  }
}

/** Mean |I(x+1, y) - I(x, y)| over the channels and rows at column x (or, transposed, across row y). */
function lineGradient(image: RgbImage, at: number, axis: 'x' | 'y'): number {
  const { width, height, data } = image;
  const pixel = (x: number, y: number, c: number) => data[(y * width + x) * 3 + c];
  let sum = 0;
  const length = axis === 'x' ? height : width;
  for (let i = 0; i < length; i++)
    for (let c = 0; c < 3; c++)
      sum +=
        axis === 'x'
          ? Math.abs(pixel(at + 1, i, c) - pixel(at, i, c))
          : Math.abs(pixel(i, at + 1, c) - pixel(i, at, c));
  return sum / (length * 3);
}

const meanOver = (image: RgbImage, lines: readonly number[], axis: 'x' | 'y') =>
  lines.reduce((sum, at) => sum + lineGradient(image, at, axis), 0) / lines.length;
const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** The seam checks along every overlap band of the plan, for the tiled result against the untiled one. */
function seams(plan: TilePlan, tiled: RgbImage, untiled: RgbImage): { ratios: number[]; worstLine: number } {
  const ratios: number[] = [];
  let worstLine = 0;
  for (const [spans, axis] of [
    [plan.columns, 'x'],
    [plan.rows, 'y'],
  ] as const) {
    for (let i = 0; i + 1 < spans.length; i++) {
      const band = range(spans[i + 1].start, spans[i].end - 1);
      const centres = [
        ...range(i > 0 ? spans[i - 1].end : spans[i].start, spans[i + 1].start - 1),
        ...range(spans[i].end, (spans[i + 2]?.start ?? spans[i + 1].end) - 1),
      ];
      const ratio = (image: RgbImage) => meanOver(image, band, axis) / meanOver(image, centres, axis);
      ratios.push(ratio(tiled) / ratio(untiled));
      for (const at of band)
        worstLine = Math.max(worstLine, lineGradient(tiled, at, axis) / lineGradient(untiled, at, axis));
    }
  }
  return { ratios, worstLine };
}

/** The largest difference, in levels, of a tile centre's (weight 1) mean colour between the two results. */
function colourShift(plan: TilePlan, tiled: RgbImage, untiled: RgbImage): number {
  let worst = 0;
  plan.tiles.forEach((tile, t) => {
    const weights = tileWeights(plan, t);
    const sums = [new Float64Array(3), new Float64Array(3)];
    let count = 0;
    for (let y = 0; y < tile.height; y++)
      for (let x = 0; x < tile.width; x++) {
        if (weights[y * tile.width + x] < 1) continue;
        count++;
        const i = ((tile.y + y) * plan.width + tile.x + x) * 3;
        for (let c = 0; c < 3; c++) {
          sums[0][c] += tiled.data[i + c];
          sums[1][c] += untiled.data[i + c];
        }
      }
    for (let c = 0; c < 3 && count > 0; c++)
      worst = Math.max(worst, Math.abs(sums[0][c] - sums[1][c]) / count);
  });
  return worst;
}

export async function tilesPair(setup: TilesSetup, pair: Pair): Promise<TilesPair> {
  await mkdir(setup.outDir, { recursive: true });
  // A tile as large as the result: untiled.
  const untiled = await stylizeOnce(setup, pair, 4096, `${setup.size}-untiled`);
  const tiled = await stylizeOnce(setup, pair, setup.tileSize, `${setup.size}-tiles-${setup.tileSize}`);
  const read = async (file: string) => (await decodeImage(file, { name: file })).image;
  const [u, t] = [await read(untiled.output), await read(tiled.output)];
  const [uLoss, tLoss] = await wholeLosses(setup, pair, [u, t]);
  const plan = planTiles(u.width, u.height, setup.tileSize);
  const seam = seams(plan, t, u);
  return {
    ...pair,
    untiled: { ...untiled, loss: uLoss },
    tiled: { ...tiled, loss: tLoss },
    seamRatios: seam.ratios,
    worstLine: seam.worstLine,
    colourShift: colourShift(plan, t, u),
  };
}

export function tilesTable(setup: TilesSetup, pairs: readonly TilesPair[]): string[] {
  const r = (a: number, b: number) => (a / b).toFixed(3);
  const lines = [
    `tiles at ${setup.size} px in ${setup.tileSize} px tiles against untiled (real weights, ${setup.threads} threads)`,
    'pair                                  content  style   total   seams (band/centre, tiled/untiled)  worst line  colour shift  seconds (u / t)  peak RSS MB (u / t)',
  ];
  for (const p of pairs) {
    const seamsText = `${Math.min(...p.seamRatios).toFixed(3)}..${Math.max(...p.seamRatios).toFixed(3)}`;
    lines.push(
      [
        `${p.content} x ${p.style}`.padEnd(37),
        r(p.tiled.loss.content, p.untiled.loss.content).padStart(7),
        r(p.tiled.loss.style, p.untiled.loss.style).padStart(6),
        r(p.tiled.loss.total, p.untiled.loss.total).padStart(7),
        seamsText.padStart(35),
        p.worstLine.toFixed(2).padStart(11),
        `${p.colourShift.toFixed(1)} levels`.padStart(13),
        `${p.untiled.wallSeconds.toFixed(0)} / ${p.tiled.wallSeconds.toFixed(0)}`.padStart(16),
        `${p.untiled.peakRssMb} / ${p.tiled.peakRssMb}`.padStart(20),
      ].join(' '),
    );
  }
  return lines;
}

/** The fan-out at 2048 and 4096 px (tubingen's shape, the default options and tile size), from the models. */
export async function tilesCostTable(shared: string): Promise<string[]> {
  const { content, style } = imagesOf({ shared } as TilesSetup, {
    content: 'tubingen',
    style: 'starry_night',
  });
  const decoded = await decodeInputs(
    {
      content: { data: content, name: content },
      styles: [{ source: { data: style, name: style }, weight: 1 }],
    },
    { format: 'png' },
  );
  const dollars = 0.0000166667;
  const lines = [
    'the fan-out on Lambda (models: 10240 MB functions, 6 vCPUs, default tile size), tubingen x starry_night',
    'size       tile  tile-seconds  wall s at 10 / 50 / 100   GB-s     x86 $',
  ];
  for (const size of [2048, 4096]) {
    const options = stylizeOptionsSchema.parse({ size });
    const ratio = decoded.content.height / decoded.content.width;
    const dims = { width: size, height: Math.round(size * ratio) };
    const tileSize = tileSizeToFit(jobShape(decoded, options, dims), 'onnx', PIPELINE_DEFAULTS.memoryMb);
    const route = deployedRoute(jobShape(decoded, { ...options, tileSize }, dims));
    if (!route.tiles) continue;
    const seconds = remainingSeconds(route.tiles.estimate);
    const walls = [10, 50, 100].map((n) => tilesWallSeconds(route.tiles!.estimate, n).toFixed(0)).join(' / ');
    const gbs = (seconds * PIPELINE_DEFAULTS.memoryMb) / 1024;
    lines.push(
      `${`${dims.width}x${dims.height}`.padEnd(10)} ${String(tileSize).padStart(4)}  ${seconds.toFixed(0).padStart(12)}  ${walls.padStart(24)}  ${gbs.toFixed(0).padStart(7)}  ${(gbs * dollars).toFixed(2).padStart(6)}`,
    );
  }
  return lines;
}

export interface MachineTime {
  readonly width: number;
  readonly height: number;
  readonly tileSize: number;
  readonly workers: number;
  /** The short run measured: one iteration a scale, then SHORT_LAST_ITERATIONS at the last. */
  readonly shortSeconds: number;
  readonly peakRssMb: number;
  /** The default run, projected: the cost model's estimate times the short run's measured/estimated. */
  readonly projectedSeconds: number;
}

/**
 * Iterations the short run gives the last scale: one round, shortened (a round's engine builds and extra
 * evaluations are all there; at 4096 px a whole round of 35 tiles takes half an hour on 2 cores).
 */
const SHORT_LAST_ITERATIONS = Math.min(5, TILE_ROUND_ITERATIONS);

/**
 * The wall time of a default run at `size` on this machine with `workers` tile workers, without running it
 * whole (4096 px takes hours on 2 cores): a short run of the same plan (the default tile size; one iteration
 * a scale, then SHORT_LAST_ITERATIONS at the last) is measured, and the cost model's estimate of the default
 * run is scaled by how the short run's measurement compares with its own estimate.
 */
export async function timeOnMachine(setup: TilesSetup, size: number, workers: number): Promise<MachineTime> {
  const pair = { content: 'tubingen', style: 'starry_night' };
  const { content, style } = imagesOf(setup, pair);
  const decoded = await decodeInputs(
    {
      content: { data: content, name: content },
      styles: [{ source: { data: style, name: style }, weight: 1 }],
    },
    { format: 'png' },
  );
  const full = stylizeOptionsSchema.parse({ size, engine: 'onnx', threads: Number(setup.threads) });
  const dims = resultSize(decoded.content, full);
  const tileSize = tileSizeToFit(jobShape(decoded, full, dims), 'onnx', PIPELINE_DEFAULTS.memoryMb) ?? size;
  const scales = planScales({ ...dims, ...full });
  const iterations = scales.map((_, s) => (s === scales.length - 1 ? SHORT_LAST_ITERATIONS : 1));
  const short = { ...full, iterations };
  const estimate = (options: typeof full) =>
    estimateCost({ ...dims, options, engine: 'onnx', threads: Number(setup.threads), tileSize }).seconds;
  const run = await stylizeOnce(setup, pair, tileSize, `${size}-workers-${workers}`, [
    ...['--size', String(size), '--iterations', iterations.join(','), '--workers', String(workers)],
  ]);
  return {
    ...dims,
    tileSize,
    workers,
    shortSeconds: run.wallSeconds,
    peakRssMb: run.peakRssMb,
    projectedSeconds: (estimate(full) * run.wallSeconds) / estimate(short),
  };
}

export function machineTimeTable(setup: TilesSetup, rows: readonly MachineTime[]): string[] {
  const lines = [
    `wall time on this machine (${setup.threads} threads; short run: 1 iteration a scale, then ${SHORT_LAST_ITERATIONS} at the last;`,
    " the projection scales the whole default run by it, so the workers' gain at the tiled scales is diluted)",
    'size       tile  workers  short run s  peak RSS MB  default run s (projected)',
  ];
  for (const r of rows) {
    lines.push(
      `${`${r.width}x${r.height}`.padEnd(10)} ${String(r.tileSize).padStart(4)}  ${String(r.workers).padStart(7)}  ${r.shortSeconds.toFixed(0).padStart(11)}  ${String(r.peakRssMb).padStart(11)}  ${r.projectedSeconds.toFixed(0).padStart(25)}`,
    );
  }
  return lines;
}
