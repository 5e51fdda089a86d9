/**
 * Optimisers on plain Float32Arrays (no I/O): L-BFGS, the default for style transfer, and Adam.
 * Both copy x0 (the caller's array is never modified) and own their iterate `x`; averageIterates() wraps
 * one so that its `x` is the running average of its iterates (average.ts).
 */
import { NstError } from '../../errors.js';
import { Adam } from './adam.js';
import { Lbfgs } from './lbfgs.js';
import type { AdamOptions, Evaluation, LbfgsOptions, Objective, Optimiser, OptimiserKind } from './types.js';

export { ADAM_AVERAGE_DECAY, averageIterates } from './average.js';
export type {
  AdamOptions,
  Evaluation,
  LbfgsOptions,
  Objective,
  Optimiser,
  OptimiserKind,
} from './types.js';

export function createOptimiser<E extends Evaluation>(
  kind: OptimiserKind,
  x0: Float32Array,
  objective: Objective<E>,
  options: LbfgsOptions | AdamOptions = {},
): Optimiser<E> {
  switch (kind) {
    case 'lbfgs':
      return new Lbfgs(x0, objective, options as LbfgsOptions);
    case 'adam':
      return new Adam(x0, objective, options as AdamOptions);
    default:
      throw new NstError('INVALID_OPTION', `unknown optimiser "${kind as string}": use lbfgs or adam`);
  }
}
