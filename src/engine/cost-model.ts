/**
 * The cost model: how long a stylize run takes, from its pixel counts, scales and iterations, per engine
 * and core count. Work is counted in convolution FLOPs (forward and backward, flops.ts) and
 * divided by a throughput calibrated with `npm run bench` on the machine types we run on. The pipeline
 * uses it to route jobs (Lambda vs Batch) and `nst stylize --dry-run` prints it.
 */
import { iterationGflop } from './flops.js';
import { planScales, type Scale, type ScheduleOptions } from './schedule.js';
import { isTiled, planTiles, tileRounds } from './tiling.js';
import type { EngineKind } from './types.js';

/**
 * Sustained throughput of whole iterations by backend: GFLOP/s per thread, and how many threads it uses.
 * The onnx-cpu figure is `npm run bench -- --e2e` on 2 AVX2 cores (issue 11, golden_gate x the_scream at
 * 512x384, run alone): the classic schedule took 380.3 s and the default 118.7 s end to end; with 1.5 s of
 * set-up per scale and about 4 s of process start, weights and decoding, both fit 300 GFLOP/s (the loss
 * graph's iterations alone run at 70-74% of the conv peak; the optimiser's vector work is the rest). More
 * threads are assumed to scale linearly (Lambda's 6 vCPUs). tfjs-wasm runs at 15-17 GFLOP/s,
 * single-threaded because tfjs turns WASM threads off under Node. The CUDA figure is an assumption for an
 * A10G/L4-class GPU (about a quarter of its fp32 peak), not yet measured.
 */
const THROUGHPUT: Readonly<Record<string, { gflopsPerThread: number; maxThreads: number }>> = {
  'onnx-cpu': { gflopsPerThread: 150, maxThreads: 256 },
  'tfjs-wasm': { gflopsPerThread: 16, maxThreads: 1 },
  'onnx-cuda': { gflopsPerThread: 8000, maxThreads: 1 },
};

/** Fixed cost per scale: building the engine (graph, session) and the style targets, in seconds (bench: setupSeconds). */
const SCALE_SETUP_SECONDS: Readonly<Record<string, number>> = {
  'onnx-cpu': 1.5,
  'tfjs-wasm': 4,
  'onnx-cuda': 3,
};

/**
 * Time per extra style region, relative to an iteration without masks: one more Gram matrix and its
 * gradient per style layer plus the mask multiplies (bench/masks.ts: 1.11x to 1.22x for a second region).
 */
const REGION_COST = 0.2;

/** How a scale is priced: the engine, threads and device, and the extra style regions (style masks). */
export interface ScaleCosting {
  readonly engine: EngineKind;
  readonly threads: number;
  readonly gpu?: boolean;
  /** Style regions beyond the first (styles with masks, engine/masks.ts): each adds Grams at every layer. */
  readonly extraRegions?: number;
  /** Scales larger than this run as tiles (tiling.ts), priced tile by tile. */
  readonly tileSize?: number;
}

/**
 * The run to price: its scale plan when the caller has one (the plan it runs), else the result's size and
 * the schedule options to plan it from.
 */
export type CostInput = ScaleCosting &
  (
    | { readonly scales: readonly Scale[] }
    | {
        readonly width: number;
        readonly height: number;
        readonly options: Pick<ScheduleOptions, 'iterations' | 'minSize' | 'scaleGrowth'>;
        readonly scales?: undefined;
      }
  );

export interface CostEstimate {
  readonly backend: string;
  readonly seconds: number;
  readonly scales: readonly {
    width: number;
    height: number;
    iterations: number;
    seconds: number;
    /** A tiled scale's tiles and rounds (each round builds every tile's engine again). */
    tiles?: number;
    rounds?: number;
    /** A tiled scale's longest tile task: its largest tile's engine and one round (a fan-out invocation). */
    tileRoundSeconds?: number;
  }[];
}

/** The backend an engine runs on, as the cost and memory models' tables name it. */
export function backendFor(engine: EngineKind, gpu = false): string {
  if (engine === 'onnx') return gpu ? 'onnx-cuda' : 'onnx-cpu';
  return 'tfjs-wasm';
}

/**
 * Loss-and-gradient evaluations of a scale: one per iteration, one more for the first step (L-BFGS evaluates
 * the start), and at the final scale two more: the initial and final loss terms the result reports.
 */
const evaluationsAt = (scale: { iterations: number }, final: boolean) =>
  scale.iterations + 1 + (final ? 2 : 0);

/** Seconds to build a scale's engine and run `evaluations` loss-and-gradient evaluations at it. */
export function scaleSeconds(
  scale: { width: number; height: number },
  evaluations: number,
  costing: ScaleCosting,
): number {
  const backend = backendFor(costing.engine, costing.gpu);
  const { gflopsPerThread, maxThreads } = THROUGHPUT[backend];
  const rate = gflopsPerThread * Math.min(maxThreads, Math.max(1, costing.threads));
  const regions = 1 + REGION_COST * (costing.extraRegions ?? 0);
  return (
    (iterationGflop(scale.width, scale.height) * evaluations * regions) / rate + SCALE_SETUP_SECONDS[backend]
  );
}

/**
 * A tiled scale (tiled-scale.ts): the painting's Grams over its tiles (one evaluation each, taken as the
 * scale's tiles), a first pass for every tile's contributions, then per round every tile's engine again,
 * its iterations, its first step's evaluation and its contributions. Each engine costs a set-up.
 */
function tiledScale(scale: Scale, tileSize: number, costing: ScaleCosting) {
  const { tiles } = planTiles(scale.width, scale.height, tileSize);
  const { count: rounds, length } = tileRounds(scale.iterations);
  const evaluations = 2 + scale.iterations + 2 * rounds;
  const seconds = tiles.reduce(
    (sum, tile) => sum + scaleSeconds(tile, evaluations, costing) + (rounds + 1) * setupOf(costing),
    0,
  );
  // A round: the first step's start, its iterations, then the contributions at its end.
  const largest = tiles.reduce((a, t) => (t.width * t.height > a.width * a.height ? t : a));
  const tileRoundSeconds = scaleSeconds(largest, Math.min(length, scale.iterations) + 2, costing);
  return { ...scale, seconds, tiles: tiles.length, rounds, tileRoundSeconds };
}

const setupOf = (costing: ScaleCosting) => SCALE_SETUP_SECONDS[backendFor(costing.engine, costing.gpu)];

export function estimateCost(input: CostInput): CostEstimate {
  const plan = input.scales ?? planScales({ width: input.width, height: input.height, ...input.options });
  const { tileSize } = input;
  const scales = plan.map((s, i) =>
    tileSize !== undefined && isTiled(s, tileSize)
      ? tiledScale(s, tileSize, input)
      : { ...s, seconds: scaleSeconds(s, evaluationsAt(s, i === plan.length - 1), input) },
  );
  return {
    backend: backendFor(input.engine, input.gpu),
    seconds: scales.reduce((sum, s) => sum + s.seconds, 0),
    scales,
  };
}
