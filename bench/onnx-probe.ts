/**
 * Speed probe of the onnx engine (run by hand, never in `npm test`):
 *
 *   npx tsx bench/onnx-probe.ts [--sizes 128,256,512] [--threads 2] [--iters 5] [--pool avg|max]
 *                               [--dynamic] [--profile DIR]
 *
 * Per size (square image, generated weights): seconds per lossAndGradient and the conv GFLOP/s that
 * implies (flops.ts), next to the GFLOP/s of one 3x3 256->256 conv at 64x64 in onnxruntime, the
 * ceiling an iteration is compared with. The two are timed interleaved (a few conv runs, then one
 * iteration, repeated) and each reported as its best, so a machine shared with other jobs skews both
 * alike. Also: engine creation time, the process's peak RSS after creation and after the iterations,
 * and the CPU seconds of the best iteration (CPU / threads estimates the time on idle cores).
 * `--dynamic` compares the forward (features) graph with fixed vs free height/width dimensions.
 * `--profile DIR` instead runs the loss graph under onnxruntime's profiler and prints time per op type.
 * Run one size per process for a clean peak RSS.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tensor } from 'onnxruntime-node';
import { iterationGflop } from '../src/engine/flops.js';
import { DEFAULT_LOSS_WEIGHTS } from '../src/engine/losses.js';
import { createOnnxEngine } from '../src/engine/onnx/engine.js';
import { prepareKernels } from '../src/engine/onnx/kernels.js';
import { createSession } from '../src/engine/onnx/session.js';
import { buildFeaturesModel, buildLossModel, IO } from '../src/engine/onnx/vgg-graph.js';
import type { Pooling, RgbImage } from '../src/engine/types.js';
import { generateVggWeights, seededRandom, toNetworkInput } from '../src/engine/vgg.js';
import { singleConv } from './conv-peak.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '128,256,512' },
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '5' },
    pool: { type: 'string', default: 'avg' },
    dynamic: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const threads = Number(args.threads);
const iters = Number(args.iters);
const pooling = args.pool as Pooling;
const weights = generateVggWeights(1);
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const round = (v: number, digits = 3) => Number(v.toFixed(digits));

function image(size: number, seed: number): RgbImage {
  const rand = seededRandom(seed);
  return {
    width: size,
    height: size,
    data: Float32Array.from({ length: size * size * 3 }, () => rand() * 255),
  };
}

interface Timing {
  wall: number;
  cpu: number;
}

/** Wall and process CPU seconds of one call. */
async function once(fn: () => Promise<unknown>): Promise<Timing> {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await fn();
  const wall = (performance.now() - t) / 1000;
  const { user, system } = process.cpuUsage(cpu0);
  return { wall, cpu: (user + system) / 1e6 };
}

const faster = (a: Timing, b: Timing) => (b.wall < a.wall ? b : a);
const NEVER: Timing = { wall: Number.POSITIVE_INFINITY, cpu: 0 };

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
  const peakRssAfterCreateMb = rssMb();
  const conv = await singleConv(threads);
  const x = toNetworkInput(content).map((v, i) => v + 10 * Math.sin(i));
  await engine.lossAndGradient(x); // warm-up
  await conv.run();
  let [bestIter, bestConv] = [NEVER, NEVER];
  for (let i = 0; i < iters; i++) {
    for (let k = 0; k < 5; k++) bestConv = faster(bestConv, await once(conv.run));
    bestIter = faster(bestIter, await once(() => engine.lossAndGradient(x)));
  }
  const gflop = iterationGflop(size, size);
  const [iterGflops, convGflops] = [gflop / bestIter.wall, conv.gflop / bestConv.wall];
  console.log(
    JSON.stringify({
      probe: 'iteration',
      backend: engine.backend,
      threads,
      pooling,
      size,
      secPerIter: round(bestIter.wall),
      cpuSecPerIter: round(bestIter.cpu),
      gflop: round(gflop, 1),
      gflops: round(iterGflops, 1),
      singleConvGflops: round(convGflops, 1),
      ratio: round(iterGflops / convGflops, 2),
      createSec: round(createSec, 2),
      peakRssAfterCreateMb,
      peakRssMb: rssMb(),
    }),
  );
  engine.dispose();
  await conv.release();
}

/** The forward graph with fixed vs free spatial dimensions, same input, runs interleaved. */
async function dynamicVsStatic(size: number): Promise<void> {
  const kernels = prepareKernels(weights);
  const x = new Tensor('float32', toNetworkInput(image(size, 3)), [1, size, size, 3]);
  const fixed = await createSession(buildFeaturesModel(kernels, pooling, { width: size, height: size }), {
    threads,
  });
  const free = await createSession(buildFeaturesModel(kernels, pooling), { threads });
  let [bestFixed, bestFree] = [NEVER, NEVER];
  for (let i = 0; i < 2 * iters; i++) {
    bestFixed = faster(bestFixed, await once(() => fixed.session.run({ [IO.image]: x })));
    bestFree = faster(bestFree, await once(() => free.session.run({ [IO.image]: x })));
  }
  console.log(
    JSON.stringify({
      probe: 'forward-dims',
      size,
      fixedSec: round(bestFixed.wall),
      freeSec: round(bestFree.wall),
    }),
  );
  await Promise.all([fixed.session.release(), free.session.release()]);
}

const RUNS = 3;

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

/** Runs the loss graph under onnxruntime's profiler; prints time per op type and the convs' GFLOP/s. */
async function profile(size: number, dir: string): Promise<void> {
  const kernels = prepareKernels(weights);
  const model = buildLossModel({ kernels, width: size, height: size, pooling, loss: DEFAULT_LOSS_WEIGHTS });
  const prefix = `onnx-${size}-${Date.now()}`;
  const { session } = await createSession(model, { threads, profilePrefix: join(dir, prefix) });
  const feeds: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    const dims = 'shape' in meta ? (meta.shape as number[]) : [];
    feeds[meta.name] = new Tensor(
      'float32',
      new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5),
      dims,
    );
  }
  for (let i = 0; i < RUNS; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).find((f) => f.startsWith(prefix))!;
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
  const byOp = new Map<string, number>();
  let [total, convUs, convFlop] = [0, 0, 0];
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    const us = e.dur / RUNS;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + us);
    total += us;
    if (e.args.op_name === 'Conv') {
      // 2 * output elements * (Cin * 3 * 3): the weight is the second input, [Cout, Cin, 3, 3].
      const [, cin, kh, kw] = Object.values(e.args.input_type_shape?.[1] ?? {})[0] ?? [];
      const out = Object.values(e.args.output_type_shape?.[0] ?? {})[0] ?? [];
      convFlop += (2 * out.reduce((a, b) => a * b, 1) * cin * kh * kw) / RUNS;
      convUs += us;
    }
  }
  const top = [...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => `${op} ${(us / 1000).toFixed(1)}ms`);
  const convGflops = round(convFlop / 1e3 / convUs, 1);
  console.log(
    JSON.stringify({ probe: 'profile', size, totalMs: Math.round(total / 1000), convGflops, byOp: top }),
  );
}

for (const size of args.sizes.split(',').map(Number)) {
  if (args.dynamic) await dynamicVsStatic(size);
  else if (args.profile) await profile(size, args.profile);
  else await iteration(size);
}
