/**
 * The cost model: how long a stylize run takes, from its pixel counts, scales and iterations, per engine
 * and core count. Work is counted in FLOPs (convolutions forward and backward, plus the Gram matrices) and
 * divided by a throughput calibrated with `npm run bench` on the machine types we run on. The pipeline
 * uses it to route jobs (Lambda vs Batch) and `nst stylize --dry-run` prints it.
 */
import type { StylizeOptions } from './options.js';
import { planScales } from './schedule.js';
import type { EngineKind } from './types.js';
import { STYLE_LAYERS, VGG19_LAYERS } from './vgg.js';

/** FLOPs of one forward pass through relu5_1 (convolutions and the style Grams), in GFLOP. */
export function forwardGflop(width: number, height: number): number {
  let w = width;
  let h = height;
  let flops = 0;
  for (const layer of VGG19_LAYERS) {
    flops += 2 * w * h * 9 * layer.inChannels * layer.outChannels;
    if ((STYLE_LAYERS as readonly string[]).includes(layer.name)) flops += 2 * w * h * layer.outChannels ** 2;
    if (layer.poolAfter) {
      w = Math.floor(w / 2);
      h = Math.floor(h / 2);
    }
  }
  return flops / 1e9;
}

/** One loss-and-gradient evaluation: the forward pass and a backward pass of the same cost. */
export const iterationGflop = (width: number, height: number): number => 2 * forwardGflop(width, height);

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
  const rate = CALIBRATED_GFLOPS_PER_THREAD[backend] * (backend === 'onnx-cuda' ? 1 : Math.max(1, input.threads));
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
