/**
 * A tile worker's task (pool.ts): builds the tile's engine with the weights it was started with,
 * evaluates or optimises the tile, and answers its result or its error's code.
 */
import { workerData } from 'node:worker_threads';
import { createTileEngine } from '../engine/index.js';
import { optimiseTile } from '../engine/tiled-scale.js';
import type { VggWeights } from '../engine/types.js';
import { NstError, toNstError } from '../errors.js';
import type { TileTask, TileTaskResult } from './pool.js';

const { weights } = workerData as { readonly weights: VggWeights };

export default async function runTileTask(task: TileTask): Promise<TileTaskResult> {
  const { engine: choice, spec, work } = task;
  const stop = () => {
    if (Atomics.load(task.stop, 0) !== 0) throw new NstError('ABORTED', `${tileOf(task)} was stopped`);
  };
  try {
    // A task still queued when its runner stopped ends here.
    stop();
    const engine = await createTileEngine(choice, { ...spec, weights });
    try {
      const value =
        work.kind === 'evaluate'
          ? await engine.evaluateTile(work.crop)
          : await optimiseTile(engine, work.options, work.shares, work.input, stop, work.name);
      return { ok: true, value };
    } finally {
      engine.dispose();
    }
  } catch (e) {
    const error = toNstError(e);
    return { ok: false, code: error.code, message: error.message };
  }
}

const tileOf = ({ work }: TileTask) => (work.kind === 'optimise' ? work.name : 'a tile');
