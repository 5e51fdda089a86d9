/** Test problems for the optimisers (quadratics, Rosenbrock) and small helpers around them. */
import type { Evaluation, Objective, Optimiser } from '../../src/engine/optim/index.js';

/** Deterministic uniform numbers in [0, 1). */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

export interface Problem {
  objective: Objective;
  /** Its minimiser. */
  xStar: Float64Array;
}

/**
 * f(x) = 1/2 (x - x*)' A (x - x*) with A = Q diag(lambda) Q', Q a random rotation and lambda log-spaced
 * over [1, condition]: rotated so that per-coordinate methods get no free ride.
 */
export function quadratic(n: number, condition: number, seed = 1): Problem {
  const next = random(seed);
  const q: Float64Array[] = [];
  while (q.length < n) {
    const v = Float64Array.from({ length: n }, () => next() - 0.5);
    for (const u of q) axpy(-dot(v, u), u, v);
    const norm = Math.sqrt(dot(v, v));
    q.push(v.map((e) => e / norm));
  }
  const a = new Float64Array(n * n);
  q.forEach((u, k) => {
    const lambda = condition ** (k / (n - 1));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] += lambda * u[i] * u[j];
  });
  const xStar = Float64Array.from({ length: n }, () => 10 * (next() - 0.5));
  const objective = async (x: Float32Array) => {
    const e = Float64Array.from(x, (v, i) => v - xStar[i]);
    const grad = new Float32Array(n);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      let ae = 0;
      for (let j = 0; j < n; j++) ae += a[i * n + j] * e[j];
      grad[i] = ae;
      loss += 0.5 * e[i] * ae;
    }
    return { loss, grad };
  };
  return { objective, xStar };
}

/** The extended Rosenbrock function sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2; x* = all ones. */
export function rosenbrock(n: number): Problem {
  const objective = async (x: Float32Array) => {
    const grad = new Float64Array(n);
    let loss = 0;
    for (let i = 0; i < n - 1; i++) {
      const a = x[i + 1] - x[i] * x[i];
      const b = 1 - x[i];
      loss += 100 * a * a + b * b;
      grad[i] += -400 * x[i] * a - 2 * b;
      grad[i + 1] += 200 * a;
    }
    return { loss, grad: Float32Array.from(grad) };
  };
  return { objective, xStar: new Float64Array(n).fill(1) };
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

export function axpy(alpha: number, x: ArrayLike<number>, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

export function maxError(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  return max;
}

/** Counts objective calls. */
export function counted<E extends Evaluation>(objective: Objective<E>): Objective<E> & { calls: number } {
  const wrapped = Object.assign(
    async (x: Float32Array) => {
      wrapped.calls++;
      return objective(x);
    },
    { calls: 0 },
  );
  return wrapped;
}

/** Steps until converged or `maxSteps`; returns the steps taken and whether it converged. */
export async function run(
  optimiser: Optimiser,
  maxSteps: number,
): Promise<{ steps: number; converged: boolean }> {
  for (let steps = 1; steps <= maxSteps; steps++) {
    if ((await optimiser.step()).converged) return { steps, converged: true };
  }
  return { steps: maxSteps, converged: false };
}

export const classicStart = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1.2));
