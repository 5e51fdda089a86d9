/**
 * Speed probe of the onnx engine (run by hand, never in `npm test`):
 *
 *   npx tsx bench/onnx-probe.ts [--sizes 128,256,512] [--threads 2] [--iters 5] [--pool avg|max]
 *                               [--conv] [--dynamic] [--profile DIR]
 *
 * Prints one JSON line per size: seconds per lossAndGradient (generated weights, square image), the
 * conv GFLOP/s that implies (flops.ts), engine creation time and the process's peak RSS. `--conv` first
 * times one 3x3 256->256 conv at 64x64 in onnxruntime, the ceiling an iteration is compared with.
 * `--dynamic` times the forward (features) graph with fixed vs free height/width dimensions.
 * `--profile DIR` writes an onnxruntime profile of the loss session and prints the top node types.
 * Run one size per process for a clean peak RSS.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tensor } from 'onnxruntime-node';
import { DEFAULT_LOSS_WEIGHTS } from '../src/engine/losses.js';
import { createOnnxEngine } from '../src/engine/onnx/engine.js';
import { iterationGflop, singleConvGflop } from '../src/engine/onnx/flops.js';
import { GraphBuilder } from '../src/engine/onnx/graph-builder.js';
import { createSession } from '../src/engine/onnx/session.js';
import { buildFeaturesModel, buildLossModel, IO, prepareKernels } from '../src/engine/onnx/vgg-graph.js';
import type { Pooling, RgbImage } from '../src/engine/types.js';
import { generateVggWeights, seededRandom, toNetworkInput } from '../src/engine/vgg.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '128,256,512' },
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '5' },
    pool: { type: 'string', default: 'avg' },
    conv: { type: 'boolean', default: false },
    dynamic: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const threads = Number(args.threads);
const iters = Number(args.iters);
const pooling = args.pool as Pooling;
const weights = generateVggWeights(1);
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

function image(size: number, seed: number): RgbImage {
  const rand = seededRandom(seed);
  return { width: size, height: size, data: Float32Array.from({ length: size * size * 3 }, () => rand() * 255) };
}

/** Best-of-n seconds of an async call (after one warm-up run). */
async function time(fn: () => Promise<unknown>, n: number): Promise<number> {
  await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

async function singleConv(): Promise<void> {
  const [c, side] = [256, 64];
  const rand = seededRandom(2);
  const g = new GraphBuilder('conv');
  const w = g.floats('w', [c, c, 3, 3], Float32Array.from({ length: c * c * 9 }, () => rand() - 0.5));
  g.output('y', g.op('Conv', [g.input('x', [1, c, side, side]), w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), [
    1,
    c,
    side,
    side,
  ]);
  const { session, backend } = await createSession(g.encode(), { threads });
  const x = new Tensor('float32', Float32Array.from({ length: c * side * side }, () => rand()), [1, c, side, side]);
  const s = await time(() => session.run({ x }), 20);
  const gflop = singleConvGflop(side, side, c, c);
  console.log(JSON.stringify({ probe: 'single-conv', backend, threads, side, c, sec: s, gflops: gflop / s }));
  await session.release();
}

/** The forward graph with fixed vs free spatial dimensions, same input. */
async function dynamicVsStatic(size: number): Promise<void> {
  const kernels = prepareKernels(weights);
  const x = new Tensor('float32', toNetworkInput(image(size, 3)), [1, size, size, 3]);
  for (const fixed of [true, false]) {
    const model = buildFeaturesModel(kernels, pooling, fixed ? { width: size, height: size } : undefined);
    const { session } = await createSession(model, { threads });
    const s = await time(() => session.run({ [IO.image]: x }), 3);
    console.log(JSON.stringify({ probe: 'forward-graph', dims: fixed ? 'fixed' : 'free', size, sec: s }));
    await session.release();
  }
}

async function iteration(size: number): Promise<void> {
  const t0 = performance.now();
  const content = image(size, 3);
  const engine = await createOnnxEngine({
    weights,
    width: size,
    height: size,
    pooling,
    loss: DEFAULT_LOSS_WEIGHTS,
    content,
    styles: [{ image: image(size, 4), weight: 1 }],
    threads,
  });
  const createSec = (performance.now() - t0) / 1000;
  const x = toNetworkInput(content);
  for (let i = 0; i < x.length; i++) x[i] += 10 * Math.sin(i);
  const s = await time(() => engine.lossAndGradient(x), iters);
  const gflop = iterationGflop(size, size);
  console.log(
    JSON.stringify({
      probe: 'iteration',
      backend: engine.backend,
      threads,
      pooling,
      size,
      secPerIter: Number(s.toFixed(4)),
      gflop: Number(gflop.toFixed(2)),
      gflops: Number((gflop / s).toFixed(1)),
      createSec: Number(createSec.toFixed(2)),
      peakRssMb: rssMb(),
    }),
  );
  engine.dispose();
}

/** Runs the loss graph with onnxruntime's profiler and sums the time per node type. */
async function profile(size: number, dir: string): Promise<void> {
  const kernels = prepareKernels(weights);
  const model = buildLossModel({ kernels, width: size, height: size, pooling, loss: DEFAULT_LOSS_WEIGHTS });
  const { session } = await createSession(model, { threads, profilePrefix: join(dir, `onnx-${size}`) });
  const shapes = (name: string) => session.inputMetadata.find((m) => m.name === name);
  const feeds: Record<string, Tensor> = {};
  for (const name of session.inputNames) {
    const meta = shapes(name);
    const dims = meta && 'shape' in meta ? (meta.shape as number[]) : [];
    feeds[name] = new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5), dims);
  }
  for (let i = 0; i < 3; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const json = readdirSync(dir).filter((f) => f.startsWith(`onnx-${size}`) && f.endsWith('.json'));
  const events = JSON.parse(readFileSync(join(dir, json.sort().at(-1)!), 'utf8')) as {
    cat: string;
    dur: number;
    args?: { op_name?: string };
  }[];
  const byOp = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.args?.op_name) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + e.dur / 3);
    total += e.dur / 3;
  }
  const top = [...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => `${op} ${(us / 1000).toFixed(1)}ms`);
  console.log(JSON.stringify({ probe: 'profile', size, totalMs: Math.round(total / 1000), byOp: top }));
}

if (args.conv) await singleConv();
for (const size of args.sizes.split(',').map(Number)) {
  if (args.dynamic) await dynamicVsStatic(size);
  if (args.profile) await profile(size, args.profile);
  else await iteration(size);
}
