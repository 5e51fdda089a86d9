/** The VGG-19 weights, loaded once per process: a warm Lambda or a long-lived local server reuses them. */
import type { VggWeights } from '../../engine/types.js';
import { loadWeights } from '../../weights/store.js';

const weightsCache = new Map<string, Promise<VggWeights>>();

/** The weights in `dir`, loaded once per process; a failed load is retried next time. */
export function cachedWeights(dir: string): Promise<VggWeights> {
  let weights = weightsCache.get(dir);
  if (!weights) {
    weights = loadWeights(dir);
    weightsCache.set(dir, weights);
    weights.catch(() => weightsCache.delete(dir));
  }
  return weights;
}
