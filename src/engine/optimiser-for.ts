/** The optimiser the options ask for, on one engine's objective: shared by whole and tiled scales. */
import {
  ADAM_AVERAGE_DECAY,
  type AdamOptions,
  averageIterates,
  createOptimiser,
  type LbfgsOptions,
  type Optimiser,
} from './optim/index.js';
import type { StylizeOptions } from './options.js';
import type { LossAndGradient, StyleEngine } from './types.js';

/** Adam's iterate-averaging decay (unset: ADAM_AVERAGE_DECAY); L-BFGS never averages (options refuse it). */
export function averageDecay(options: StylizeOptions): number {
  return options.optimizer === 'adam' ? (options.averageDecay ?? ADAM_AVERAGE_DECAY) : 0;
}

/** The optimiser's settings among the options (unset ones take the optimiser's defaults). */
function optimiserOptions(options: StylizeOptions, gamma: number | undefined): LbfgsOptions | AdamOptions {
  const learningRate = options.learningRate === undefined ? {} : { learningRate: options.learningRate };
  if (options.optimizer === 'adam') return learningRate;
  return { ...learningRate, gamma, historySize: options.lbfgsHistory, lineSearch: options.lineSearch };
}

/**
 * With averaging, the optimiser's x is the average: what checkpoints, frames and a scale's result hold.
 * `gamma`: L-BFGS's inverse Hessian scale from an earlier run on a similar objective (Optimiser.gamma).
 */
export function optimiserFor(
  options: StylizeOptions,
  x0: Float32Array,
  engine: StyleEngine,
  gamma?: number,
): Optimiser<LossAndGradient> {
  return averageIterates(
    createOptimiser<LossAndGradient>(
      options.optimizer,
      x0,
      (v) => engine.lossAndGradient(v),
      optimiserOptions(options, gamma),
    ),
    averageDecay(options),
  );
}
