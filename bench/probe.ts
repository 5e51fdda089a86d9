/**
 * One benchmark measurement in its own process (so peak RSS is this engine's alone). Prints one JSON line.
 *   tsx bench/probe.ts --engine onnx|tfjs --size 256 --iters 5 [--threads N] [--pool avg|max]
 *   tsx bench/probe.ts --conv-peak | --matmul-peak [--threads N]
 * Each timed iteration is one lossAndGradient plus an L-BFGS step, like the PyTorch peer's iteration.
 * Weights are generated: timing does not depend on their values.
 */
import { Command } from 'commander';
import { iterationGflop } from '../src/engine/flops.js';
import { createEngine } from '../src/engine/index.js';
import { DEFAULT_LOSS_WEIGHTS } from '../src/engine/losses.js';
import { createOptimiser } from '../src/engine/optim/index.js';
import { defaultThreads } from '../src/engine/threads.js';
import type { EngineKind, Pooling, RgbImage } from '../src/engine/types.js';
import { generateVggWeights, seededRandom, toNetworkInput } from '../src/engine/vgg.js';
import { measureConvPeak, measureMatMulPeak } from './peaks.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

function noiseImage(size: number, seed: number): RgbImage {
  const rand = seededRandom(seed);
  const data = new Float32Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rand() * 255;
  return { width: size, height: size, data };
}

async function probeEngine(
  engine: EngineKind,
  size: number,
  iters: number,
  threads: number,
  pooling: Pooling,
) {
  const content = noiseImage(size, 1);
  const spec = {
    weights: generateVggWeights(1),
    width: size,
    height: size,
    pooling,
    loss: DEFAULT_LOSS_WEIGHTS,
    content,
    styles: [{ image: noiseImage(size, 2), weight: 1 }],
    threads,
  };
  const setupStart = performance.now();
  const instance = await createEngine(engine, spec);
  const setupSeconds = (performance.now() - setupStart) / 1000;
  const optimiser = createOptimiser('lbfgs', toNetworkInput(content), (x) => instance.lossAndGradient(x));
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await optimiser.step();
    times.push((performance.now() - t) / 1000);
  }
  instance.dispose();
  const timed = times.length > 1 ? times.slice(1) : times; // the first iteration warms up
  const secPerIter = median(timed);
  return {
    engine,
    backend: instance.backend,
    size,
    threads,
    pool: pooling,
    iters,
    secPerIter: Number(secPerIter.toFixed(4)),
    secPerIterMin: Number(Math.min(...timed).toFixed(4)),
    setupSeconds: Number(setupSeconds.toFixed(2)),
    gflops: Number((iterationGflop(size, size) / secPerIter).toFixed(1)),
    peakRssMb: peakRssMb(),
  };
}

const flags = new Command()
  .option('--engine <kind>', 'onnx or tfjs', 'onnx')
  .option('--size <px>', 'image side', '256')
  .option('--iters <n>', 'iterations (the first is a warm-up)', '5')
  .option('--threads <n>', 'threads', String(defaultThreads()))
  .option('--pool <mode>', 'avg or max', 'avg')
  .option('--conv-peak', 'measure one large 3x3 conv instead')
  .option('--matmul-peak', 'measure one large MatMul instead')
  .parse()
  .opts<{
    engine: EngineKind;
    size: string;
    iters: string;
    threads: string;
    pool: Pooling;
    convPeak?: boolean;
    matmulPeak?: boolean;
  }>();

const result = flags.convPeak
  ? { engine: 'conv-peak', ...(await measureConvPeak(Number(flags.threads))), peakRssMb: peakRssMb() }
  : flags.matmulPeak
    ? { engine: 'matmul-peak', ...(await measureMatMulPeak(Number(flags.threads))), peakRssMb: peakRssMb() }
    : await probeEngine(
        flags.engine,
        Number(flags.size),
        Number(flags.iters),
        Number(flags.threads),
        flags.pool,
      );
process.stdout.write(`${JSON.stringify(result)}\n`);
