/**
 * The optimiser contract: optimisers work on plain Float32Arrays, so every engine gets them for free
 * (see docs/ARCHITECTURE.md, "The engine seam"). An objective returns the loss and its gradient at x.
 */
import { NstError } from '../../errors.js';

export interface Evaluation {
  readonly loss: number;
  /** dLoss/dx. Engines may reuse this buffer between calls: copy what you keep. */
  readonly grad: Float32Array;
}

export type Objective<E extends Evaluation = Evaluation> = (x: Float32Array) => Promise<E>;

export interface StepResult<E extends Evaluation = Evaluation> {
  /**
   * The evaluation this step reports (its loss and terms); its `grad` is valid until the next step().
   * L-BFGS: at the optimiser's current x after this step. Adam: at x before this step's update (knowing
   * the loss after the update would cost another objective call), so Adam's reported loss lags by one step.
   */
  readonly evaluation: E;
  /** Objective evaluations this step used: >= 1 whenever x moves; 0 only when L-BFGS has converged and stays put. */
  readonly evaluations: number;
  /** True when a tolerance says further steps won't help. */
  readonly converged: boolean;
}

export interface Optimiser<E extends Evaluation = Evaluation> {
  /** Current iterate. The optimiser owns it; read it, don't mutate it. */
  readonly x: Float32Array;
  /**
   * L-BFGS: the inverse Hessian's scale gamma = s'y / y'y of its newest curvature pair (or the one it was
   * given), which a restart on a similar objective may start from (LbfgsOptions.gamma). Undefined until
   * then or after the history is forgotten, and for Adam.
   */
  readonly gamma?: number;
  step(): Promise<StepResult<E>>;
}

export type OptimiserKind = 'lbfgs' | 'adam';

export interface LbfgsOptions {
  /** Curvature pairs kept (m). Default 20 (jcjohnson/neural-style keeps 100, see LBFGS_DEFAULTS). Memory: 2 * m * x.length floats. */
  historySize?: number;
  /** Step length t. Default 1. While the history is empty (the first step) t is also scaled by min(1, 1/|g|_1). */
  learningRate?: number;
  /** 'none' (default): jcjohnson's fixed step, one evaluation per step. 'strong-wolfe': torch's line search. */
  lineSearch?: 'none' | 'strong-wolfe';
  /** gradient: |g|_inf at or below it converges (default 1e-5). change: step and loss-change tolerance (default 1e-9). */
  tolerance?: { gradient?: number; change?: number };
  /**
   * The inverse Hessian's scale to start from (Optimiser.gamma of an earlier run on a similar objective):
   * the first step is then along -gamma g at step length lr. Unset: the first fixed step is a probe (and a
   * line search starts at the probe's length).
   */
  gamma?: number;
}

export interface AdamOptions {
  /** Step size. Default 10, jcjohnson/neural-style's for pixel space 0..255. */
  learningRate?: number;
  /** Decay of the gradient's running mean. Default 0.9. */
  beta1?: number;
  /** Decay of the squared gradient's running mean. Default 0.999. */
  beta2?: number;
  /** Added to the denominator so flat coordinates don't divide by zero. Default 1e-8. */
  epsilon?: number;
}

/**
 * Throws when an evaluation is unusable: a NaN or infinite loss or gradient (optimising on would only
 * spread NaN through x) or a gradient of the wrong length (a bug in the objective).
 */
export function assertUsableEvaluation(e: Evaluation, length: number, where: string): void {
  if (e.grad.length !== length) {
    throw new NstError('INTERNAL', `${where}: the gradient has ${e.grad.length} entries, x has ${length}`);
  }
  let finite = Number.isFinite(e.loss);
  for (let i = 0; finite && i < e.grad.length; i++) finite = Number.isFinite(e.grad[i]);
  if (!finite) {
    throw new NstError(
      'INTERNAL',
      `${where}: the loss or its gradient is not finite (loss ${e.loss}); the optimisation diverged, try a smaller learning rate`,
    );
  }
}
