/**
 * `npm run bench`: seconds per iteration and peak RSS of each engine that loads, and of the PyTorch peer
 * (../shared/bench/torch_gatys.py, Debian's python3-torch) at the same sizes in the same run, with ratios.
 *
 *   npm run bench -- [--sizes 128,256,512] [--engines onnx,tfjs,torch] [--iters 5] [--threads N] [--json]
 *                    [--e2e [--pairs tubingen:starry_night,...] [--out output/bench]]
 *   npm run bench -- --startup [--runs 7] [--nst other-checkout/bin/nst.js]
 *   npm run bench -- --tiles [--size 1024] [--tile-size 384] [--pairs ...] [--time-sizes 2048,4096] [--out output/bench]
 *   npm run bench -- --quality [--variant previous --variant 'flags:--style-weight 3e4' ...] [--pairs ...] [--out output/bench]
 *
 * Efficiency is against the larger of two ceilings measured in the same run (bench/peaks.ts): one large conv
 * and one large MatMul. Each engine row shows the memory model's peak (src/engine/memory-model.ts) beside the measured peak RSS.
 * The model is of the pipeline's and the CLI's process (sharp, real weights, decoded inputs); a probe loads
 * neither, so it sits about 250 MB under the model's base (128 px: 672 MB measured, 948 modelled): compare
 * how both grow with size.
 * Every measurement runs in its own process. --json prints one JSON object per line. --e2e adds the
 * classic and the default schedule end to end at 512 px on real images, with contact sheets (bench/e2e.ts);
 * `--engines torch --sizes 512 --e2e` runs only that and the peer. --startup measures only how fast `nst`
 * starts (bench/startup.ts). --quality runs only variants of `nst stylize` at 512 px and scores how stylised
 * they are with the style yardstick (bench/quality.ts, bench/yardstick.ts). --tiles runs only the tiled-against-untiled checks and prints the fan-out's
 * time and cost from the models (bench/tiles.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { availableEngines } from '../src/engine/index.js';
import { estimateMemory } from '../src/engine/memory-model.js';
import { defaultThreads } from '../src/engine/threads.js';
import { MANIFEST_FILE } from '../src/weights/manifest.js';
import { DEFAULT_PAIRS, type EndToEndPair, endToEndPair, endToEndTable, parsePairs } from './e2e.js';
import { DEFAULT_VARIANTS, QUALITY_PAIRS, type QualityRow, qualityPair, qualityTable } from './quality.js';
import { measureStartup, startupTable } from './startup.js';
import {
  type MachineTime,
  machineTimeTable,
  type TilesPair,
  tilesCostTable,
  tilesPair,
  tilesTable,
  timeOnMachine,
} from './tiles.js';
import { Yardstick } from './yardstick.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(ROOT, '../shared');
const PEER = path.join(SHARED, 'bench/torch_gatys.py');
const PYTHON = '/usr/bin/python3';
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

interface Row {
  engine: string;
  size?: number;
  secPerIter?: number;
  gflops?: number;
  peakRssMb?: number;
  modelPeakMb?: number;
  [key: string]: unknown;
}

const opts = new Command()
  .option('--sizes <list>', 'image sizes (px, square)', '128,256,512')
  .option('--engines <list>', 'engines: onnx, tfjs, torch', 'onnx,tfjs,torch')
  .option('--iters <n>', 'iterations per measurement (the first is a warm-up)', '5')
  .option('--threads <n>', 'threads for every engine', String(defaultThreads()))
  .option('--json', 'one JSON object per line')
  .option('--e2e', 'also run the classic and the default schedule end to end at 512 px, side by side')
  .option('--pairs <list>', 'e2e pairs as content:style names under ../shared/images (default: two)')
  .option('--out <dir>', 'where e2e writes its results and contact sheets', 'output/bench')
  .option('--startup', 'only measure how fast nst starts, against node -e 0')
  .option('--tiles', 'only compare tiled and untiled results (losses, seams, colour), and price the fan-out')
  .option('--size <px>', 'with --tiles: the result size', '1024')
  .option('--tile-size <px>', 'with --tiles: the tile size', '384')
  .option(
    '--time-sizes <list>',
    'with --tiles: time runs this large on this machine with 1 and 2 tile workers (then pairs only with --pairs)',
  )
  .option(
    '--quality',
    'only run variants end to end at 512 px and score how stylised they are (bench/quality.ts)',
  )
  .option(
    '--variant <name>',
    'with --quality, repeatable: default, previous, jcjohnson, strength:<n>, flags:<flags> (default: previous and default)',
    (name: string, names: string[]) => [...names, name.trim()],
    [] as string[],
  )
  .option('--runs <n>', 'with --startup: runs of each command', '7')
  .option(
    '--nst <bin>',
    "with --startup: this bin/nst.js instead of this checkout's",
    path.join(ROOT, 'bin/nst.js'),
  )
  .parse()
  .opts<{
    sizes: string;
    engines: string;
    iters: string;
    threads: string;
    json?: boolean;
    e2e?: boolean;
    pairs?: string;
    out: string;
    startup?: boolean;
    tiles?: boolean;
    quality?: boolean;
    variant: string[];
    size: string;
    tileSize: string;
    timeSizes?: string;
    runs: string;
    nst: string;
  }>();

const sizes = opts.sizes.split(',').map(Number);
const wanted = opts.engines.split(',').map((e) => e.trim());
const emit = (row: Row) => {
  rows.push(row);
  if (opts.json) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stderr.write(`  ${JSON.stringify(row)}\n`);
};
const rows: Row[] = [];

/** The memory model for a probe: a size x size noise content and style, L-BFGS, no decoded inputs. */
function modelPeakMb(engine: 'onnx' | 'tfjs', size: number, gpu: boolean): number {
  const options = {
    optimizer: 'lbfgs' as const,
    lbfgsHistory: 20,
    styleScale: 1,
    iterations: Number(opts.iters),
  };
  return estimateMemory({
    width: size,
    height: size,
    styles: [{ width: size, height: size }],
    options,
    engine,
    gpu,
  }).peakMb;
}

async function probe(args: string[]): Promise<Row> {
  const { stdout } = await run(TSX, [path.join(ROOT, 'bench/probe.ts'), ...args], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

async function torch(size: number): Promise<Row | undefined> {
  if (!existsSync(PYTHON) || !existsSync(PEER)) return undefined;
  // /usr/bin/time -f %M reports the peer's peak RSS in KB on stderr.
  const { stdout, stderr } = await run(
    '/usr/bin/time',
    ['-f', '%M', PYTHON, PEER, '--size', String(size), '--iters', opts.iters, '--threads', opts.threads],
    { maxBuffer: 1 << 20 },
  ).catch((e: { stderr?: string }) => {
    throw new Error(`the PyTorch peer failed (apt-get install python3-torch python3-pil): ${e.stderr ?? e}`);
  });
  const peer = JSON.parse(stdout.trim().split('\n').pop()!);
  const { iterationGflop } = await import('../src/engine/flops.js');
  return {
    engine: 'torch',
    backend: `torch-${peer.version}`,
    size,
    threads: peer.threads,
    secPerIter: peer.sec_per_iter_median,
    secPerIterMin: peer.sec_per_iter_min,
    gflops: Number((iterationGflop(size, size) / peer.sec_per_iter_median).toFixed(1)),
    peakRssMb: Math.round(Number(stderr.trim().split('\n').pop()) / 1024),
  };
}

/** What every end-to-end mode runs with: this checkout's nst, ../shared, the threads and the output folder. */
const runSetup = {
  nst: path.join(ROOT, 'bin/nst.js'),
  shared: SHARED,
  threads: opts.threads,
  outDir: path.resolve(opts.out),
};

if (opts.tiles) {
  const setup = {
    ...runSetup,
    size: Number(opts.size),
    tileSize: Number(opts.tileSize),
  };
  const times: MachineTime[] = [];
  const timeSizes = opts.timeSizes?.split(',').map(Number) ?? [];
  if (timeSizes.some((size) => !Number.isInteger(size) || size < 256))
    throw new Error(`--time-sizes: "${opts.timeSizes}" is not a list of sizes in px (at least 256)`);
  for (const size of timeSizes) {
    for (const workers of [1, 2]) {
      const row = await timeOnMachine(setup, size, workers);
      if (opts.json) process.stdout.write(`${JSON.stringify(row)}\n`);
      times.push(row);
    }
  }
  if (times.length > 0) process.stdout.write(`${machineTimeTable(setup, times).join('\n')}\n\n`);
  const pairs: TilesPair[] = [];
  // Timing runs alone compare no pairs, unless --pairs names some.
  const qualityPairs = opts.pairs ? parsePairs(opts.pairs) : times.length > 0 ? [] : DEFAULT_PAIRS;
  for (const pair of qualityPairs) {
    const result = await tilesPair(setup, pair);
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    pairs.push(result);
  }
  process.stdout.write(
    `${[...tilesTable(setup, pairs), '', ...(await tilesCostTable(SHARED))].join('\n')}\n`,
  );
  process.exit(0);
}

if (opts.quality) {
  const setup = runSetup;
  const yardstick = await Yardstick.create(path.join(SHARED, 'models/vgg19'));
  const rows: QualityRow[] = [];
  for (const pair of opts.pairs ? parsePairs(opts.pairs) : QUALITY_PAIRS) {
    const result = await qualityPair(
      setup,
      yardstick,
      pair,
      opts.variant.length > 0 ? opts.variant : DEFAULT_VARIANTS,
    );
    if (opts.json) for (const row of result.rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    process.stderr.write(`${qualityTable(result.rows).join('\n')}\nsheet: ${result.sheet}\n`);
    rows.push(...result.rows);
  }
  if (!opts.json) process.stdout.write(`${qualityTable(rows).join('\n')}\n`);
  process.exit(0);
}

if (opts.startup) {
  const rows = await measureStartup({
    nst: path.resolve(opts.nst),
    repo: ROOT,
    weights: await benchWeights(),
    runs: Number(opts.runs),
  });
  if (opts.json) for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stdout.write(`${startupTable(rows).join('\n')}\n`);
  process.exit(0);
}

/** The real weights, or generated ones of the same shapes (start-up does not depend on their values). */
async function benchWeights(): Promise<string> {
  const real = path.join(SHARED, 'models/vgg19');
  if (existsSync(path.join(real, MANIFEST_FILE))) return real;
  const { generateVggWeights } = await import('../src/engine/vgg.js');
  const { writeWeights } = await import('../src/weights/store.js');
  const dir = path.join(tmpdir(), 'nst-bench-weights');
  await writeWeights(dir, generateVggWeights(1));
  return dir;
}

const engines = (await availableEngines()).filter((e) => wanted.includes(e));
if (engines.includes('onnx')) {
  emit(await probe(['--conv-peak', '--threads', opts.threads]));
  emit(await probe(['--matmul-peak', '--threads', opts.threads]));
}
for (const size of sizes) {
  for (const engine of engines) {
    const row = await probe([
      '--engine',
      engine,
      '--size',
      String(size),
      '--iters',
      opts.iters,
      '--threads',
      opts.threads,
    ]);
    emit({ ...row, modelPeakMb: modelPeakMb(engine, size, row.backend === 'onnx-cuda') });
  }
  if (wanted.includes('torch')) {
    const row = await torch(size);
    if (row) emit(row);
    else process.stderr.write('torch peer skipped: /usr/bin/python3 with python3-torch not installed\n');
  }
}
const e2e = opts.e2e ? await endToEnd() : undefined;

if (!opts.json) printTable();
if (e2e && !opts.json) process.stdout.write(`\n${endToEndTable(e2e.pairs, e2e.peer).join('\n')}\n`);

/** Both schedules on every pair, and the peer's 512 px seconds per iteration (measured above or now). */
async function endToEnd(): Promise<{ pairs: EndToEndPair[]; peer?: number } | undefined> {
  if (!existsSync(path.join(SHARED, 'models/vgg19/weights.json'))) {
    process.stderr.write('e2e skipped: ../shared/models/vgg19 not present\n');
    return undefined;
  }
  const setup = runSetup;
  const pairs: EndToEndPair[] = [];
  for (const pair of opts.pairs ? parsePairs(opts.pairs) : DEFAULT_PAIRS) {
    const result = await endToEndPair(setup, pair);
    emit({ engine: 'e2e-512', ...result });
    pairs.push(result);
  }
  let peer = rows.find((r) => r.engine === 'torch' && r.size === 512)?.secPerIter;
  if (peer === undefined) {
    const row = await torch(512);
    if (row) emit(row);
    else process.stderr.write('torch peer skipped: /usr/bin/python3 with python3-torch not installed\n');
    peer = row?.secPerIter;
  }
  return { pairs, peer };
}

function printTable(): void {
  const conv = rows.find((r) => r.engine === 'conv-peak')?.gflops;
  const matmul = rows.find((r) => r.engine === 'matmul-peak')?.gflops;
  const peak = conv || matmul ? Math.max(conv ?? 0, matmul ?? 0) : undefined;
  const lines = ['', 'engine  size  s/iter   vs torch  GFLOP/s  % of peak  peak RSS MB  model MB'];
  for (const r of rows.filter((x) => x.size !== undefined && x.secPerIter !== undefined)) {
    const torchRow = rows.find((x) => x.engine === 'torch' && x.size === r.size);
    const ratio = torchRow?.secPerIter ? `${(r.secPerIter! / torchRow.secPerIter).toFixed(2)}x` : '-';
    const ofPeak = peak && r.gflops ? `${Math.round((100 * r.gflops) / peak)}%` : '-';
    lines.push(
      `${r.engine.padEnd(7)} ${String(r.size).padStart(4)}  ${r.secPerIter!.toFixed(3).padStart(7)}  ${ratio.padStart(8)}  ${String(r.gflops).padStart(7)}  ${ofPeak.padStart(9)}  ${String(r.peakRssMb).padStart(11)}  ${String(r.modelPeakMb ?? '-').padStart(8)}`,
    );
  }
  if (peak) {
    lines.push(
      `peak: ${peak} GFLOP/s, the larger of one large 3x3 conv (${conv ?? '-'}) and one 2048x2048 MatMul ` +
        `(${matmul ?? '-'}) in onnxruntime on the same threads`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
