/**
 * The cost model: how long a stylize run takes, from its pixel counts, scales and iterations, per engine
 * and core count. Work is counted in FLOPs (convolutions forward and backward, plus the Gram matrices) and
 * divided by a throughput calibrated with `npm run bench` on the machine types we run on. The pipeline
 * uses it to route jobs (Lambda vs Batch) and `nst stylize --dry-run` prints it.
 */
import { iterationGflop } from './flops.js';
import type { StylizeOptions } from './options.js';
import { planScales } from './schedule.js';
import type { EngineKind } from './types.js';

/** Sustained GFLOP/s of a whole iteration, per thread, by engine backend (calibrated by `npm run bench`). */
export const CALIBRATED_GFLOPS_PER_THREAD: Readonly<Record<string, number>> = {
  'onnx-cpu': 75,
  'tfjs-wasm': 11,
  'tfjs-node': 40,
  // One H200/A10G-class GPU through onnxruntime's CUDA provider; threads do not matter there.
  'onnx-cuda': 8000,
};

/** Fixed cost per scale: building the engine (graph, session) and the style targets, in seconds. */
const SCALE_SETUP_SECONDS: Readonly<Record<string, number>> = {
  'onnx-cpu': 1.5,
  'tfjs-wasm': 1,
  'tfjs-node': 1,
  'onnx-cuda': 3,
};

export interface CostInput {
  readonly width: number;
  readonly height: number;
  readonly options: Pick<StylizeOptions, 'iterations' | 'minSize'>;
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

export function backendFor(engine: EngineKind, gpu = false): string {
  if (engine === 'onnx') return gpu ? 'onnx-cuda' : 'onnx-cpu';
  return 'tfjs-wasm';
}

export function estimateCost(input: CostInput): CostEstimate {
  const backend = backendFor(input.engine, input.gpu);
  const rate =
    CALIBRATED_GFLOPS_PER_THREAD[backend] * (backend === 'onnx-cuda' ? 1 : Math.max(1, input.threads));
  const scales = planScales({
    width: input.width,
    height: input.height,
    minSize: input.options.minSize,
    iterations: input.options.iterations,
  }).map((s) => {
    // +2 evaluations at the last scale (initial and final loss) are within the noise; count one per scale.
    const gflop = iterationGflop(s.width, s.height) * (s.iterations + 1);
    return { ...s, gflop, seconds: gflop / rate + SCALE_SETUP_SECONDS[backend] };
  });
  return {
    backend,
    seconds: scales.reduce((sum, s) => sum + s.seconds, 0),
    gflop: scales.reduce((sum, s) => sum + s.gflop, 0),
    scales: scales.map(({ width, height, iterations, seconds }) => ({ width, height, iterations, seconds })),
  };
}
