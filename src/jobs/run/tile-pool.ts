/**
 * The tile workers of a run on this machine (`--workers`; the CLI and local mode): how many, by default,
 * and the pool's lifetime around the run. The deployed pipeline fans its tiles out over Lambda instead.
 */
import { estimateMemory } from '../../engine/memory-model.js';
import { planScales } from '../../engine/schedule.js';
import { defaultThreads } from '../../engine/threads.js';
import type { TileRunnerFactory } from '../../engine/tiled-scale.js';
import { tilesOfScales } from '../../engine/tiling.js';
import type { EngineKind, VggWeights } from '../../engine/types.js';
import { NstError } from '../../errors.js';
import { type JobShape, MEMORY_MARGIN } from './routing.js';

/**
 * Engine threads each tile worker gets at least, by default. Measured on 2 cores (the bench's --time-sizes,
 * rounds of 20): 2 workers of 1 thread took 1.01x as long as 1 worker of 2 threads at 2048 px and 0.93x at
 * 4096 px, at 1.7-2.1x the peak memory (5371 against 3075 MB at 4096 px). So by default a 2-core machine
 * keeps one tile engine's memory (a 4096 px run under 4 GB); `--workers 2` buys little there.
 */
export const TILE_WORKER_THREADS = 2;
/**
 * What a worker holds besides its tile engine's activations, MiB: its runtime and its copy of the weights
 * (measured: 106 MB a worker before its first engine, real weights) and its session's copy (80 MB).
 */
const TILE_WORKER_BASE_MB = 200;

/** Tile workers as asked for: a whole number from 1, or 'auto' (what this machine allows: tileWorkersFor). */
export type TileWorkersWanted = number | 'auto';

/** Checks a `--workers` value: 'auto' or a whole number from 1. */
export function parseTileWorkers(raw: unknown): TileWorkersWanted {
  if (raw === undefined || raw === 'auto') return 'auto';
  if (typeof raw !== 'string' || !/^[1-9][0-9]*$/.test(raw.trim())) {
    throw new NstError('INVALID_OPTION', `--workers must be a whole number from 1, or auto (got ${raw})`);
  }
  return Number(raw);
}

/** What this machine gives tile workers: threads (the option's, else every core) and free memory, MiB. */
interface Capacity {
  readonly threads: number;
  readonly availableMb: number;
}

/**
 * The workers a job's tiles get here: as many as asked, but no more than its largest tiled scale has tiles
 * (one when it has none); by default (auto), also one per TILE_WORKER_THREADS threads, and no more than the
 * memory left beside the job's own peak holds. Asking for more workers than threads is refused: each needs
 * a thread of its own.
 */
export function tileWorkersFor(
  wanted: TileWorkersWanted,
  job: JobShape,
  engine: EngineKind,
  here: Capacity,
): number {
  if (wanted !== 'auto' && wanted > here.threads) {
    throw new NstError(
      'INVALID_OPTION',
      `--workers ${wanted} is more than the ${here.threads} threads (--threads): each worker needs one`,
    );
  }
  const atOnce = engine === 'onnx' ? tilesAtOnce(job) : 0;
  if (atOnce === 0) return 1;
  if (wanted !== 'auto') return Math.min(wanted, atOnce);
  const { peakMb, perWorkerMb } = workerMemory(job, engine);
  const byMemory = Math.floor(
    (here.availableMb * MEMORY_MARGIN - peakMb - TILE_WORKER_BASE_MB) / perWorkerMb,
  );
  const byCores = Math.floor(here.threads / TILE_WORKER_THREADS);
  return Math.max(1, Math.min(byCores, byMemory + 1, atOnce));
}

/** The tiles of the job's most tiled scale (0 untiled). */
function tilesAtOnce(job: JobShape): number {
  const scales = job.scales ?? planScales({ width: job.width, height: job.height, ...job.options });
  const tiles = tilesOfScales(scales, job.options.tileSize);
  return Math.max(0, ...scales.map((_, s) => tiles.filter((t) => t.scale === s).length));
}

/**
 * The memory model's peak of a job run with `workers` tile workers: a pool's every worker holds a tile
 * engine and its base, beside the run's own (whose engine is then idle).
 */
export function peakWithWorkers(job: JobShape, engine: EngineKind, workers: number): number {
  const { peakMb, perWorkerMb } = workerMemory(job, engine);
  return workers > 1 ? Math.ceil(peakMb + TILE_WORKER_BASE_MB + (workers - 1) * perWorkerMb) : peakMb;
}

function workerMemory(job: JobShape, engine: EngineKind) {
  const { peakMb, parts } = estimateMemory({ ...job, engine });
  return { peakMb, perWorkerMb: parts.network + parts.optimiser + TILE_WORKER_BASE_MB };
}

export function capacityHere(threads: number | undefined): Capacity {
  // availableMemory() heeds a container's memory limit, where os.freemem() does not.
  return {
    threads: threads ?? defaultThreads(),
    availableMb: Math.floor(process.availableMemory() / 2 ** 20),
  };
}

/**
 * Runs `work` with the tile runner of a pool of `workers` tile workers sharing `threads`, closed after it;
 * with one worker, without (the tiles then run in turn on this thread).
 */
export async function withTileWorkers<T>(
  settings: { readonly workers: number; readonly threads: number; readonly weights: VggWeights },
  work: (tileRunner: TileRunnerFactory | undefined) => Promise<T>,
): Promise<T> {
  if (settings.workers <= 1) return work(undefined);
  // Loaded only for a pool: Lambda, which fans its tiles out instead, never loads it.
  const { TileWorkers } = await import('../../tile-workers/pool.js');
  const pool = TileWorkers.start(settings);
  try {
    return await work((...args) => pool.runner(...args));
  } finally {
    await pool.close();
  }
}
