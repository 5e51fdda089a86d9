/**
 * L-BFGS (Liu & Nocedal 1989) on Float32Array iterates. Hand-written: no maintained npm package
 * implements it. It follows torch.optim.LBFGS, the optimiser jcjohnson/neural-style made the default for
 * style transfer, with two deliberate differences noted where they occur (a scale-free curvature test and
 * a history reset instead of stopping when the direction stops descending).
 *
 * Step policy:
 * - `lineSearch: 'none'` (default, jcjohnson's fixed step): t = min(1, 1/|g|_1) * lr while no curvature
 *   pair has set the inverse Hessian's scale (the raw gradient's scale is arbitrary), then t = lr. A run
 *   given the scale of an earlier run (`gamma`: a tiled scale's next round) starts at t = lr. Each step
 *   evaluates the objective once, at the new iterate; the next step reuses that evaluation. The first step
 *   also evaluates x0, so it costs two. A fixed step can diverge on badly scaled problems; style transfer
 *   is known to be fine.
 * - `lineSearch: 'strong-wolfe'`: torch's `_strong_wolfe` (cubic interpolation, c1 = 1e-4, c2 = 0.9), at
 *   most 25 evaluations per step (strong-wolfe.ts).
 *
 * Convergence (each checked after every step, `converged` says further steps won't help):
 * - gradient: |g|_inf <= tolerance.gradient (default 1e-5, torch's tolerance_grad);
 * - step: |x_new - x_old|_inf <= tolerance.change (default 1e-9): x no longer moves;
 * - loss: |f_new - f_old| <= tolerance.change * max(|f_old|, |f_new|, 1): relative (like SciPy's ftol)
 *   because style losses run from 1e5 to 1e12, where torch's absolute test would never fire; the step and
 *   loss tests skip fixed steps taken without a scale (probes of length lr / |g|_1, which shrinks
 *   with the image: at 1024 px one moved the loss by under 1e-9 of itself, and final scales stopped after
 *   one iteration, or after three when the first probe's pair was refused and the next step probed again);
 * - direction: the search direction no longer descends (g'd > -tolerance.change) even as steepest descent.
 *
 * Memory: x, its gradient, the direction (and for the line search a trial point and one kept gradient),
 * plus m curvature pairs (s, y) of Float32Arrays, allocated as the history fills and then reused as a
 * ring. Dot products accumulate in float64: the vectors have up to ~3M entries.
 */
import { NstError } from '../../errors.js';
import { keeper, type LinePoint, strongWolfe } from './strong-wolfe.js';
import {
  assertUsableEvaluation,
  type Evaluation,
  type LbfgsOptions,
  type Objective,
  type Optimiser,
  type StepResult,
} from './types.js';

export const LBFGS_DEFAULTS = {
  // jcjohnson/neural-style keeps 100 pairs; each pair is two image-sized vectors and every step walks
  // them 4 times, which at 1024 px costs seconds and 2.4 GB. 20 keeps the step cheap next to the engine.
  historySize: 20,
  learningRate: 1,
  lineSearch: 'none',
  tolerance: { gradient: 1e-5, change: 1e-9 },
} as const;

/**
 * A pair is kept only when its curvature s'y > CURVATURE_EPSILON * |s| |y|. s'y > 0 keeps the inverse
 * Hessian estimate positive definite (so directions descend); a tiny s'y makes rho = 1/s'y explode and the
 * pair is float32 noise anyway. Relative to |s||y| so it doesn't depend on the loss's scale (torch uses an
 * absolute 1e-10).
 */
const CURVATURE_EPSILON = 1e-8;
/** How much longer each probe is than the last whose curvature pair was refused. */
const PROBE_GROWTH = 10;

export class Lbfgs<E extends Evaluation> implements Optimiser<E> {
  readonly x: Float32Array;
  /** Gradient at x: a copy, because engines reuse their gradient buffer. */
  private readonly g: Float32Array;
  /** The search direction; after a move, the step actually taken (s = x_new - x_old, float32-rounded). */
  private readonly d: Float32Array;
  private readonly history: CurvatureHistory;
  private readonly learningRate: number;
  private readonly lineSearch: 'none' | 'strong-wolfe';
  private readonly gradientTolerance: number;
  private readonly changeTolerance: number;
  /** The evaluation at x; undefined until the first step evaluates x0. */
  private current: E | undefined;
  private iteration = 0;
  /** The next probe's length, in units of lr / |g|_1 (grows while probes' pairs are refused). */
  private probeLength = 1;
  private lineBuffers: { trial: Float32Array; kept: Float32Array } | undefined;

  constructor(
    x0: Float32Array,
    private readonly objective: Objective<E>,
    options: LbfgsOptions = {},
  ) {
    const historySize = options.historySize ?? LBFGS_DEFAULTS.historySize;
    if (!Number.isInteger(historySize) || historySize < 1) {
      throw new NstError(
        'INVALID_OPTION',
        `L-BFGS history size must be an integer >= 1 (got ${historySize})`,
      );
    }
    this.learningRate = positive('L-BFGS learning rate', options.learningRate ?? LBFGS_DEFAULTS.learningRate);
    this.lineSearch = options.lineSearch ?? LBFGS_DEFAULTS.lineSearch;
    this.gradientTolerance = nonNegative(
      'L-BFGS gradient tolerance',
      options.tolerance?.gradient ?? LBFGS_DEFAULTS.tolerance.gradient,
    );
    this.changeTolerance = nonNegative(
      'L-BFGS change tolerance',
      options.tolerance?.change ?? LBFGS_DEFAULTS.tolerance.change,
    );
    this.x = Float32Array.from(x0);
    this.g = new Float32Array(x0.length);
    this.d = new Float32Array(x0.length);
    this.history = new CurvatureHistory(historySize, x0.length);
    if (options.gamma !== undefined) this.history.gamma = positive('L-BFGS gamma', options.gamma);
  }

  get gamma(): number | undefined {
    return this.history.gamma;
  }

  async step(): Promise<StepResult<E>> {
    let evaluations = 0;
    if (this.current === undefined) {
      this.current = await this.evaluate(this.x);
      this.g.set(this.current.grad);
      evaluations = 1;
    }
    const before = this.current;
    if (maxAbs(this.g) <= this.gradientTolerance) return { evaluation: before, evaluations, converged: true };
    const gtd = this.searchDirection();
    if (gtd > -this.changeTolerance) return { evaluation: before, evaluations, converged: true };

    const scaled = this.history.gamma !== undefined;
    const t = (scaled ? 1 : Math.min(1, this.probeLength / sumAbs(this.g))) * this.learningRate;
    // A fixed step without a scale is a scale-free probe of length lr / |g|_1: at print sizes |g|_1 is so
    // large that it barely changes the loss, which says nothing about convergence (a line search sizes its
    // own step). Not only the first: a probe whose pair fails the curvature test leaves the scale unset,
    // and the next step probes again, ten times longer.
    const probing = !scaled && this.lineSearch === 'none';
    const moved = this.lineSearch === 'none' ? await this.fixedStep(t) : await this.lineSearchStep(t, gtd);
    const stored = this.history.push(this.d, moved.grad, this.g);
    if (probing) this.probeLength = stored ? 1 : this.probeLength * PROBE_GROWTH;
    this.g.set(moved.grad);
    this.current = moved.evaluation;
    this.iteration++;

    const f0 = before.loss;
    const f1 = moved.evaluation.loss;
    const converged =
      maxAbs(this.g) <= this.gradientTolerance ||
      (!probing &&
        (maxAbs(this.d) <= this.changeTolerance ||
          Math.abs(f1 - f0) <= this.changeTolerance * Math.max(Math.abs(f0), Math.abs(f1), 1)));
    return { evaluation: moved.evaluation, evaluations: evaluations + moved.evaluations, converged };
  }

  /** Fills d with -H g and returns g'd. Falls back to steepest descent when the history misleads. */
  private searchDirection(): number {
    this.history.direction(this.g, this.d);
    const gtd = dot(this.g, this.d);
    if (gtd <= -this.changeTolerance || this.history.empty) return gtd;
    // Float32 roundoff can leave a direction that does not descend; torch stops there, we forget the
    // history and go downhill instead.
    this.history.clear();
    this.history.direction(this.g, this.d);
    return dot(this.g, this.d);
  }

  private async fixedStep(t: number): Promise<Move<E>> {
    this.move(t);
    const evaluation = await this.evaluate(this.x);
    return { evaluation, grad: evaluation.grad, evaluations: 1 };
  }

  private async lineSearchStep(t: number, gtd: number): Promise<Move<E>> {
    const n = this.x.length;
    this.lineBuffers ??= { trial: new Float32Array(n), kept: new Float32Array(n) };
    const { trial, kept } = this.lineBuffers;
    const { x, d } = this;
    const evaluateAt = async (step: number): Promise<LinePoint<E>> => {
      for (let i = 0; i < n; i++) trial[i] = x[i] + step * d[i];
      const evaluation = await this.evaluate(trial);
      return { t: step, f: evaluation.loss, gtd: dot(evaluation.grad, d), evaluation, grad: null };
    };
    const before = this.current!;
    const start: LinePoint<E> = { t: 0, f: before.loss, gtd, evaluation: before, grad: this.g };
    const search = await strongWolfe(evaluateAt, keeper(kept), start, t, maxAbs(d), this.changeTolerance);
    const grad = search.point.grad;
    if (grad === null) {
      throw new NstError('INTERNAL', 'L-BFGS line search lost its gradient');
    }
    this.move(search.point.t);
    // The engine's gradient buffer has moved on; report ours (the step copies grad into this.g).
    return {
      evaluation: { ...search.point.evaluation, grad: this.g },
      grad,
      evaluations: search.evaluations,
    };
  }

  /** x += t d, rounding exactly as the line search's trial points; d becomes the step actually taken. */
  private move(t: number): void {
    const { x, d } = this;
    for (let i = 0; i < x.length; i++) {
      const before = x[i];
      x[i] = before + t * d[i];
      d[i] = x[i] - before;
    }
  }

  private async evaluate(at: Float32Array): Promise<E> {
    const evaluation = await this.objective(at);
    assertUsableEvaluation(evaluation, at.length, `L-BFGS iteration ${this.iteration + 1}`);
    return evaluation;
  }
}

interface Move<E> {
  /** The evaluation at the new x (as the step reports it). */
  readonly evaluation: E;
  /** The gradient at the new x, valid until the next objective call. */
  readonly grad: Float32Array;
  readonly evaluations: number;
}

/** The last m curvature pairs (s, y) in a ring: allocated as it fills, then the oldest slot is reused. */
class CurvatureHistory {
  private readonly s: Float32Array[] = [];
  private readonly y: Float32Array[] = [];
  private readonly rho: Float64Array;
  private readonly alpha: Float64Array;
  private start = 0;
  private count = 0;
  /**
   * Initial inverse Hessian scale H0 = gamma I: s'y / y'y of the newest pair, or one given at the start;
   * undefined (H0 = I) until then.
   */
  gamma: number | undefined;

  constructor(
    private readonly size: number,
    private readonly length: number,
  ) {
    this.rho = new Float64Array(size);
    this.alpha = new Float64Array(size);
  }

  get empty(): boolean {
    return this.count === 0;
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
    this.gamma = undefined;
  }

  /** Adds the pair (s, y = gNew - gOld) when its curvature is trustworthy (see CURVATURE_EPSILON). */
  push(s: Float32Array, gNew: Float32Array, gOld: Float32Array): boolean {
    let sy = 0;
    let yy = 0;
    let ss = 0;
    for (let i = 0; i < s.length; i++) {
      const yi = Math.fround(gNew[i] - gOld[i]);
      sy += s[i] * yi;
      yy += yi * yi;
      ss += s[i] * s[i];
    }
    if (!(sy > CURVATURE_EPSILON * Math.sqrt(ss * yy))) return false;

    const slot = (this.start + this.count) % this.size;
    if (this.count === this.size) this.start = (this.start + 1) % this.size;
    else this.count++;
    this.s[slot] ??= new Float32Array(this.length);
    this.y[slot] ??= new Float32Array(this.length);
    this.s[slot].set(s);
    const y = this.y[slot];
    for (let i = 0; i < y.length; i++) y[i] = gNew[i] - gOld[i];
    this.rho[slot] = 1 / sy;
    this.gamma = sy / yy;
    return true;
  }

  /** d = -H g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4). */
  direction(g: Float32Array, d: Float32Array): void {
    for (let i = 0; i < d.length; i++) d[i] = -g[i];
    for (let k = this.count - 1; k >= 0; k--) {
      const j = (this.start + k) % this.size;
      this.alpha[j] = this.rho[j] * dot(this.s[j], d);
      axpy(-this.alpha[j], this.y[j], d);
    }
    const { gamma } = this;
    if (gamma !== undefined) for (let i = 0; i < d.length; i++) d[i] *= gamma;
    for (let k = 0; k < this.count; k++) {
      const j = (this.start + k) % this.size;
      const beta = this.rho[j] * dot(this.y[j], d);
      axpy(this.alpha[j] - beta, this.s[j], d);
    }
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** y += a x */
function axpy(a: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < y.length; i++) y[i] += a * x[i];
}

function maxAbs(a: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
}

function sumAbs(a: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]);
  return sum;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new NstError('INVALID_OPTION', `${name} must be a positive number (got ${value})`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new NstError('INVALID_OPTION', `${name} must be a non-negative number (got ${value})`);
  }
  return value;
}
