/**
 * Adam (Kingma & Ba 2015) with bias correction, on Float32Array iterates. Hand-written: it is a few lines
 * and no maintained npm package works on plain typed arrays.
 *
 * Each step evaluates the objective once, at the current x, then updates x. The evaluation a step reports
 * is therefore at x *before* its update: knowing the loss after it would cost a second call. (L-BFGS
 * reports the loss after its step; its reported loss does not lag.) Adam has no stopping test: it runs
 * the iterations it is given, so `converged` is always false.
 */
import { NstError } from '../../errors.js';
import {
  type AdamOptions,
  assertUsableEvaluation,
  type Evaluation,
  type Objective,
  type Optimiser,
  type StepResult,
} from './types.js';

/** jcjohnson/neural-style's Adam settings: a step of 10 suits pixel space (0..255). */
const ADAM_DEFAULTS = { learningRate: 10, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

export class Adam<E extends Evaluation> implements Optimiser<E> {
  readonly x: Float32Array;
  /** Running means of the gradient and of its square. */
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private readonly learningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private iteration = 0;

  constructor(
    x0: Float32Array,
    private readonly objective: Objective<E>,
    options: AdamOptions = {},
  ) {
    this.learningRate = options.learningRate ?? ADAM_DEFAULTS.learningRate;
    this.beta1 = options.beta1 ?? ADAM_DEFAULTS.beta1;
    this.beta2 = options.beta2 ?? ADAM_DEFAULTS.beta2;
    this.epsilon = options.epsilon ?? ADAM_DEFAULTS.epsilon;
    if (!(this.learningRate > 0 && Number.isFinite(this.learningRate))) {
      throw new NstError(
        'INVALID_OPTION',
        `Adam learning rate must be a positive number (got ${this.learningRate})`,
      );
    }
    for (const [name, beta] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(beta >= 0 && beta < 1))
        throw new NstError('INVALID_OPTION', `Adam ${name} must be in [0, 1) (got ${beta})`);
    }
    if (!(this.epsilon > 0 && Number.isFinite(this.epsilon))) {
      throw new NstError('INVALID_OPTION', `Adam epsilon must be a positive number (got ${this.epsilon})`);
    }
    this.x = Float32Array.from(x0);
    this.m = new Float32Array(x0.length);
    this.v = new Float32Array(x0.length);
  }

  async step(): Promise<StepResult<E>> {
    const evaluation = await this.objective(this.x);
    assertUsableEvaluation(evaluation, this.x.length, `Adam iteration ${this.iteration + 1}`);
    this.iteration++;
    const { x, m, v, beta1, beta2, epsilon } = this;
    const g = evaluation.grad;
    // x -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t).
    const stepSize = this.learningRate / (1 - beta1 ** this.iteration);
    const vScale = 1 / Math.sqrt(1 - beta2 ** this.iteration);
    for (let i = 0; i < x.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      x[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) * vScale + epsilon);
    }
    return { evaluation, evaluations: 1, converged: false };
  }
}
