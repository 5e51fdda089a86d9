/**
 * A bounded pool of worker threads that runs a tiled scale's tiles at once (`--workers`), for the CLI and
 * local mode; the deployed pipeline fans tiles out over Lambda instead (src/jobs/tiled). Each worker holds
 * one tile engine at a time and gets its share of the threads; the weights are copied to each worker once,
 * when it starts. The pool is piscina's; what is ours is the task (worker.ts) and the runner.
 */
import { existsSync } from 'node:fs';
import pLimit from 'p-limit';
import { Piscina } from 'piscina';
import type { StylizeOptions } from '../engine/options.js';
import type {
  TiledScaleSetup,
  TileRoundInput,
  TileRoundOutput,
  TileRunner,
  TileState,
} from '../engine/tiled-scale.js';
import { tileName } from '../engine/tiled-scale.js';
import type { EngineChoice, TileEngineSpec, VggWeights } from '../engine/types.js';
import { type ErrorCode, NstError, toNstError } from '../errors.js';

/** One tile's work, as a worker gets it: its engine's spec (less the weights, which it holds) and what to do. */
export interface TileTask {
  readonly engine: EngineChoice;
  readonly spec: Omit<TileEngineSpec, 'weights'>;
  readonly work:
    | { readonly kind: 'evaluate'; readonly crop: Float32Array }
    | {
        readonly kind: 'optimise';
        readonly options: StylizeOptions;
        readonly shares: readonly number[];
        readonly input: TileRoundInput;
        readonly name: string;
      };
  /**
   * Its runner's stop flag, shared with every worker (a SharedArrayBuffer; not 0: stop). The worker reads it
   * between iterations, so a stop ends the tiles within an iteration without ending the workers.
   */
  readonly stop: Int32Array;
}

/** What a worker answers: errors as their code and message, since a thread boundary drops their class. */
export type TileTaskResult =
  | { readonly ok: true; readonly value: TileState | TileRoundOutput }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

export interface TileWorkersSettings {
  readonly weights: VggWeights;
  /** Workers, each running one tile at a time. */
  readonly workers: number;
  /** Threads of all the workers together (each gets its share, at least one). */
  readonly threads: number;
}

export class TileWorkers {
  /** Set when the pool itself failed (a worker that cannot start): every task then fails with it. */
  private broken: NstError | undefined;

  private constructor(
    private readonly pool: Piscina<TileTask, TileTaskResult>,
    /** Workers, each running one tile at a time. */
    readonly size: number,
    /** Each worker's engine threads. */
    readonly threadsEach: number,
  ) {
    // Piscina reports here what no task's promise gets, such as a worker failing as it starts (it then
    // starts no more, and queued tasks would wait for ever): the pool is closed, which rejects them.
    pool.on('error', (e: Error) => {
      this.broken ??= new NstError('INTERNAL', `a tile worker failed: ${e.message}`, { cause: e });
      void pool.destroy();
    });
  }

  static start({ weights, workers, threads }: TileWorkersSettings): TileWorkers {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new NstError('INVALID_OPTION', `workers must be a whole number from 1, not ${workers}`);
    }
    const pool = new Piscina<TileTask, TileTaskResult>({
      ...workerFile(),
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: 1,
      // Workers stay for the whole run: starting one loads the engine's runtime and copies the weights.
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: { weights },
    });
    return new TileWorkers(pool, workers, Math.max(1, Math.floor(threads / workers)));
  }

  /**
   * The runner of one tiled scale's tiles on this pool. A tile's task is made when a worker is free, so only
   * the tiles running hold their crops. The first tile to fail stops the tiles still running or waiting,
   * and so does `signal`.
   */
  runner(
    setup: Pick<TiledScaleSetup, 'plan' | 'shares' | 'tileSpec'>,
    options: StylizeOptions,
    targets: readonly Float32Array[],
    signal?: AbortSignal,
  ): TileRunner {
    const stop = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const stopAll = () => Atomics.store(stop, 0, 1);
    signal?.addEventListener('abort', stopAll, { once: true });
    const oneTaskAWorker = pLimit(this.size);
    const run = <T extends TileState | TileRoundOutput>(t: number, work: () => TileTask['work']) =>
      oneTaskAWorker(async () => {
        try {
          if (this.broken) throw this.broken;
          const { weights: _, ...spec } = setup.tileSpec(t, targets);
          const task = {
            engine: options.engine,
            spec: { ...spec, threads: this.threadsEach },
            work: work(),
            stop,
          };
          const result = await this.pool.run(task).catch((e: unknown) => {
            throw this.broken ?? toNstError(e);
          });
          if (!result.ok) throw new NstError(result.code, result.message);
          return result.value as T;
        } catch (e) {
          stopAll();
          throw e;
        }
      });
    return {
      evaluate: (t, crop) => run<TileState>(t, () => ({ kind: 'evaluate', crop: crop() })),
      optimise: (t, input) =>
        run<TileRoundOutput>(t, () => ({
          kind: 'optimise',
          options,
          shares: setup.shares(t),
          input: input(),
          name: tileName(setup.plan, t),
        })),
    };
  }

  /** Ends the workers (what they run is abandoned). */
  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/** The worker's module: the compiled one beside this file, else its loader for the TypeScript sources. */
function workerFile(): { filename: string } {
  const compiled = new URL('./worker.js', import.meta.url);
  if (existsSync(compiled)) return { filename: compiled.href };
  return { filename: new URL('./worker-from-source.mjs', import.meta.url).href };
}
