/**
 * The strong-Wolfe line search behind L-BFGS's `lineSearch: 'strong-wolfe'` (lbfgs.ts), after torch's
 * `_strong_wolfe` (Nocedal & Wright, Algorithms 3.5 and 3.6). It sees the objective only along the line
 * x + t d, through the caller's evaluateAt, and keeps gradients in the caller's buffer: it allocates nothing
 * image-sized itself.
 */
import type { Evaluation } from './types.js';

/** Strong-Wolfe constants as torch.optim.LBFGS: sufficient decrease c1, curvature c2, evaluation budget. */
const C1 = 1e-4;
const C2 = 0.9;
const MAX_LINE_SEARCH_EVALUATIONS = 25;

/** A point on the line x + t d: its loss f, slope g'd, and its gradient once kept (null otherwise). */
export interface LinePoint<E> {
  readonly t: number;
  readonly f: number;
  readonly gtd: number;
  readonly evaluation: E;
  grad: Float32Array | null;
}

/**
 * Copies a point's gradient into the one spare buffer, taking it from the point kept before. Only the
 * point the search may return needs its gradient, and in this search a point that stops being a
 * candidate (the bracket's low end) never becomes one again, so one buffer suffices.
 */
export function keeper<E extends Evaluation>(buffer: Float32Array): (p: LinePoint<E>) => void {
  let owner: LinePoint<E> | undefined;
  return (p) => {
    buffer.set(p.evaluation.grad);
    if (owner) owner.grad = null;
    p.grad = buffer;
    owner = p;
  };
}

/**
 * Searches along d from `start` (t = 0, gradient kept) for a step that satisfies both strong-Wolfe
 * conditions: bracket one, then zoom into the bracket by safeguarded cubic interpolation. `keep` is called
 * on each evaluation the search may return, right after evaluating it (while the engine's gradient buffer
 * still holds it).
 */
export async function strongWolfe<E extends Evaluation>(
  evaluateAt: (t: number) => Promise<LinePoint<E>>,
  keep: (p: LinePoint<E>) => void,
  start: LinePoint<E>,
  t: number,
  dNorm: number,
  changeTolerance: number,
): Promise<{ point: LinePoint<E>; evaluations: number }> {
  const search: LineSearch<E> = {
    start,
    keep,
    evaluations: 0,
    async evaluate(step) {
      this.evaluations++;
      return evaluateAt(step);
    },
    armijo: (p) => p.f <= start.f + C1 * p.t * start.gtd,
    curvature: (p) => Math.abs(p.gtd) <= -C2 * start.gtd,
  };
  const bracketed = await bracket(search, t);
  const point =
    'found' in bracketed
      ? bracketed.found
      : await zoom(search, bracketed.bracket, bracketed.last, dNorm, changeTolerance);
  return { point, evaluations: search.evaluations };
}

/** One line search's state: its start, the Wolfe conditions, and the evaluations spent. */
interface LineSearch<E> {
  readonly start: LinePoint<E>;
  readonly keep: (p: LinePoint<E>) => void;
  evaluations: number;
  evaluate(t: number): Promise<LinePoint<E>>;
  /** Sufficient decrease. */
  readonly armijo: (p: LinePoint<E>) => boolean;
  /** The strong curvature condition. */
  readonly curvature: (p: LinePoint<E>) => boolean;
}

/** Bracketing: grow t until the loss stops decreasing or the slope turns (or a step satisfies both conditions). */
async function bracket<E>(
  search: LineSearch<E>,
  t: number,
): Promise<{ found: LinePoint<E> } | { bracket: [LinePoint<E>, LinePoint<E>]; last: LinePoint<E> }> {
  let prev = search.start;
  let cur = await search.evaluate(t);
  for (;;) {
    if (!search.armijo(cur) || cur.f >= prev.f) return { bracket: [prev, cur], last: cur };
    if (search.curvature(cur)) {
      search.keep(cur);
      return { found: cur };
    }
    if (cur.gtd >= 0) return { bracket: [prev, cur], last: cur };
    if (search.evaluations >= MAX_LINE_SEARCH_EVALUATIONS) {
      // Out of budget while still descending: cur decreased the loss sufficiently, take it.
      search.keep(cur);
      return { found: cur };
    }
    const next = cubicMinimum(prev, cur, cur.t + 0.01 * (cur.t - prev.t), cur.t * 10);
    search.keep(cur);
    prev = cur;
    cur = await search.evaluate(next);
  }
}

/** Zoom: shrink [lo, hi] (lo: the lowest loss so far) around a point that satisfies both conditions. */
async function zoom<E>(
  search: LineSearch<E>,
  bracket: [LinePoint<E>, LinePoint<E>],
  last: LinePoint<E>,
  dNorm: number,
  changeTolerance: number,
): Promise<LinePoint<E>> {
  let [lo, hi] = bracket[0].f <= bracket[1].f ? bracket : [bracket[1], bracket[0]];
  if (lo === last) search.keep(last);
  let insufficientProgress = false;
  while (
    search.evaluations < MAX_LINE_SEARCH_EVALUATIONS &&
    Math.abs(hi.t - lo.t) * dNorm >= changeTolerance
  ) {
    const trial = zoomTrial(lo, hi, insufficientProgress);
    insufficientProgress = trial.insufficientProgress;
    const p = await search.evaluate(trial.next);
    if (!search.armijo(p) || p.f >= lo.f) {
      hi = p;
      if (hi.f < lo.f) {
        [lo, hi] = [hi, lo];
        search.keep(lo);
      }
    } else {
      if (search.curvature(p)) {
        search.keep(p);
        return p;
      }
      if (p.gtd * (hi.t - lo.t) >= 0) hi = lo;
      lo = p;
      search.keep(lo);
    }
  }
  return lo;
}

/** The next trial step between lo and hi: the cubic's minimum, kept away from the ends so the bracket shrinks. */
function zoomTrial(
  lo: LinePoint<unknown>,
  hi: LinePoint<unknown>,
  insufficientProgress: boolean,
): { next: number; insufficientProgress: boolean } {
  const lower = Math.min(lo.t, hi.t);
  const upper = Math.max(lo.t, hi.t);
  const next = cubicMinimum(lo, hi, lower, upper);
  const margin = 0.1 * (upper - lower);
  if (!(Math.min(upper - next, next - lower) < margin)) return { next, insufficientProgress: false };
  if (insufficientProgress || next >= upper || next <= lower) {
    const moved = Math.abs(next - upper) < Math.abs(next - lower) ? upper - margin : lower + margin;
    return { next: moved, insufficientProgress: false };
  }
  return { next, insufficientProgress: true };
}

/**
 * The minimiser of the cubic through two points' values and slopes, clamped to [lower, upper]; the
 * midpoint when the cubic has no minimum there (torch's `_cubic_interpolate`).
 */
function cubicMinimum(a: LinePoint<unknown>, b: LinePoint<unknown>, lower: number, upper: number): number {
  const d1 = a.gtd + b.gtd - (3 * (a.f - b.f)) / (a.t - b.t);
  const d2Square = d1 * d1 - a.gtd * b.gtd;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const [p, q] = a.t <= b.t ? [a, b] : [b, a];
    const t = q.t - (q.t - p.t) * ((q.gtd + d2 - d1) / (q.gtd - p.gtd + 2 * d2));
    if (Number.isFinite(t)) return Math.min(Math.max(t, lower), upper);
  }
  return (lower + upper) / 2;
}
