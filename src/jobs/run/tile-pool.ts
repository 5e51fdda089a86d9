/**
 * The tile workers of a run on this machine (`--workers`; the CLI and local mode): how many, by default,
 * and the pool's lifetime around the run. The deployed pipeline fans its tiles out over Lambda instead.
 */
import { freemem } from 'node:os';
import { estimateMemory } from '../../engine/memory-model.js';
import { planScales } from '../../engine/schedule.js';
import { defaultThreads } from '../../engine/threads.js';
import type { TileRunnerFactory } from '../../engine/tiled-scale.js';
import { tilesOfScales } from '../../engine/tiling.js';
import type { EngineKind, VggWeights } from '../../engine/types.js';
import { NstError } from '../../errors.js';
import { type JobShape, MEMORY_MARGIN } from './routing.js';

/**
 * Engine threads each tile worker gets at least, by default. With fewer, workers gain nothing over one
 * engine using the threads itself (measured on 2 cores: see tile-workers.ts in the bench notes).
 */
export const TILE_WORKER_THREADS = 2;
/** What a worker holds besides its tile engine: the runtime and its copy of the weights, MiB (measured). */
const TILE_WORKER_BASE_MB = 400;

/** Tile workers as asked for: a whole number from 1, or 'auto' (defaultTileWorkers). */
export type TileWorkersWanted = number | 'auto';

/** Checks a `--workers` value: 'auto' or a whole number from 1. */
export function parseTileWorkers(raw: unknown): TileWorkersWanted {
  if (raw === undefined || raw === 'auto') return 'auto';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new NstError('INVALID_OPTION', `--workers must be a whole number from 1, or auto (got ${raw})`);
  }
  return n;
}

/**
 * The workers a job's tiles get here by default: one per TILE_WORKER_THREADS threads, no more than its
 * largest tiled scale has tiles, and no more than the memory left beside the job's own peak holds (each
 * worker adds a tile engine and its base).
 */
export function defaultTileWorkers(
  job: JobShape,
  engine: EngineKind,
  here: { readonly threads: number; readonly availableMb: number },
): number {
  const { tileSize } = job.options;
  const scales = job.scales ?? planScales({ width: job.width, height: job.height, ...job.options });
  const tiles = tilesOfScales(scales, tileSize);
  if (engine !== 'onnx' || tiles.length === 0) return 1;
  const tilesAtOnce = Math.max(...scales.map((_, s) => tiles.filter((t) => t.scale === s).length));
  const { peakMb, perWorkerMb } = workerMemory(job, engine);
  const byMemory = 1 + Math.floor((here.availableMb * MEMORY_MARGIN - peakMb) / perWorkerMb);
  const byCores = Math.floor(here.threads / TILE_WORKER_THREADS);
  return Math.max(1, Math.min(byCores, byMemory, tilesAtOnce));
}

/** The memory model's peak of a job run with `workers` tile workers: each beyond the first adds its own. */
export function peakWithWorkers(job: JobShape, engine: EngineKind, workers: number): number {
  const { peakMb, perWorkerMb } = workerMemory(job, engine);
  return workers > 1 ? Math.ceil(peakMb + (workers - 1) * perWorkerMb) : peakMb;
}

function workerMemory(job: JobShape, engine: EngineKind) {
  const { peakMb, parts } = estimateMemory({ ...job, engine });
  return { peakMb, perWorkerMb: parts.network + parts.optimiser + TILE_WORKER_BASE_MB };
}

/** What this machine gives tile workers: the threads (the option's, else every core) and the free memory. */
export function capacityHere(threads: number | undefined): { threads: number; availableMb: number } {
  // process.availableMemory() heeds a container's limit; Node before 20.13 has only os.freemem().
  const bytes = process.availableMemory?.() ?? freemem();
  return { threads: threads ?? defaultThreads(), availableMb: Math.floor(bytes / 2 ** 20) };
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
