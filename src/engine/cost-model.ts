/**
 * The cost model: how long a stylize run takes, from its pixel counts, scales and iterations, per engine
 * and core count. Work is counted in convolution FLOPs (forward and backward, flops.ts) and
 * divided by a throughput calibrated with `npm run bench` on the machine types we run on. The pipeline
 * uses it to route jobs (Lambda vs Batch) and `nst stylize --dry-run` prints it.
 */
import { iterationGflop } from './flops.js';
import { planScales, type ScheduleOptions } from './schedule.js';
import type { EngineKind } from './types.js';

/**
 * Sustained throughput of whole iterations by backend: GFLOP/s per thread, and how many threads it uses.
 * CPU figures are `npm run bench` on 2 cores: onnx-cpu iterations run at 210-245 GFLOP/s at 256-512 px,
 * but a whole 512 px run (bench --e2e: 639 s for tubingen) sustains about 180 once the optimiser, the
 * scale changes and the final evaluations are counted, so that is the figure here; tfjs-wasm runs at
 * 15-17 GFLOP/s, single-threaded because tfjs turns WASM threads off under Node. The CUDA figure is
 * an assumption for an A10G/L4-class GPU (about a quarter of its fp32 peak), not yet measured.
 */
const THROUGHPUT: Readonly<Record<string, { gflopsPerThread: number; maxThreads: number }>> = {
  'onnx-cpu': { gflopsPerThread: 90, maxThreads: 256 },
  'tfjs-wasm': { gflopsPerThread: 16, maxThreads: 1 },
  'onnx-cuda': { gflopsPerThread: 8000, maxThreads: 1 },
};

/** Fixed cost per scale: building the engine (graph, session) and the style targets, in seconds (bench: setupSeconds). */
const SCALE_SETUP_SECONDS: Readonly<Record<string, number>> = {
  'onnx-cpu': 1.5,
  'tfjs-wasm': 4,
  'onnx-cuda': 3,
};

export interface CostInput {
  readonly width: number;
  readonly height: number;
  readonly options: Pick<ScheduleOptions, 'iterations' | 'minSize' | 'scaleGrowth'>;
  readonly engine: EngineKind;
  readonly threads: number;
  readonly gpu?: boolean;
}

export interface CostEstimate {
  readonly backend: string;
  readonly seconds: number;
  readonly gflop: number;
  readonly scales: readonly { width: number; height: number; iterations: number; seconds: number }[];
}

function backendFor(engine: EngineKind, gpu = false): string {
  if (engine === 'onnx') return gpu ? 'onnx-cuda' : 'onnx-cpu';
  return 'tfjs-wasm';
}

/**
 * Loss-and-gradient evaluations of a scale: one per iteration, one more for the first step (L-BFGS evaluates
 * the start), and at the final scale two more: the initial and final loss terms the result reports.
 */
const evaluationsAt = (scale: { iterations: number }, final: boolean) =>
  scale.iterations + 1 + (final ? 2 : 0);

export function estimateCost(input: CostInput): CostEstimate {
  const backend = backendFor(input.engine, input.gpu);
  const { gflopsPerThread, maxThreads } = THROUGHPUT[backend];
  const rate = gflopsPerThread * Math.min(maxThreads, Math.max(1, input.threads));
  const scales = planScales({
    width: input.width,
    height: input.height,
    ...input.options,
  }).map((s, i, all) => {
    const gflop = iterationGflop(s.width, s.height) * evaluationsAt(s, i === all.length - 1);
    return { ...s, gflop, seconds: gflop / rate + SCALE_SETUP_SECONDS[backend] };
  });
  return {
    backend,
    seconds: scales.reduce((sum, s) => sum + s.seconds, 0),
    gflop: scales.reduce((sum, s) => sum + s.gflop, 0),
    scales: scales.map(({ width, height, iterations, seconds }) => ({ width, height, iterations, seconds })),
  };
}
