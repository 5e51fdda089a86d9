import { describe, expect, it } from 'vitest';
import {
  type AdamOptions,
  createOptimiser,
  type Evaluation,
  type LbfgsOptions,
  type Objective,
  type Optimiser,
  type OptimiserKind,
} from '../../src/engine/optim/index.js';
import { NstError } from '../../src/errors.js';

/** Deterministic uniform numbers in [0, 1). */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

interface Problem {
  objective: Objective;
  /** Its minimiser. */
  xStar: Float64Array;
}

/**
 * f(x) = 1/2 (x - x*)' A (x - x*) with A = Q diag(lambda) Q', Q a random rotation and lambda log-spaced
 * over [1, condition]: rotated so that per-coordinate methods get no free ride.
 */
function quadratic(n: number, condition: number, seed = 1): Problem {
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
function rosenbrock(n: number): Problem {
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

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function axpy(alpha: number, x: ArrayLike<number>, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

function maxError(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  return max;
}

/** Counts objective calls. */
function counted<E extends Evaluation>(objective: Objective<E>): Objective<E> & { calls: number } {
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
async function run(optimiser: Optimiser, maxSteps: number): Promise<{ steps: number; converged: boolean }> {
  for (let steps = 1; steps <= maxSteps; steps++) {
    if ((await optimiser.step()).converged) return { steps, converged: true };
  }
  return { steps: maxSteps, converged: false };
}

const classicStart = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1.2));

describe('createOptimiser', () => {
  it.each(['lbfgs', 'adam'] as const)('%s copies x0 and never modifies it', async (kind) => {
    const { objective } = quadratic(8, 10);
    const x0 = new Float32Array(8).fill(3);
    const optimiser = createOptimiser(kind, x0, objective);
    expect(optimiser.x).not.toBe(x0);
    for (let i = 0; i < 5; i++) await optimiser.step();
    expect(Array.from(x0)).toEqual(new Array(8).fill(3));
    expect(maxError(optimiser.x, x0)).toBeGreaterThan(0);
  });

  it('rejects unknown kinds and bad options with INVALID_OPTION', () => {
    const { objective } = quadratic(4, 10);
    const x0 = new Float32Array(4);
    const bad: [OptimiserKind, LbfgsOptions | AdamOptions][] = [
      ['lbfgs', { historySize: 0 }],
      ['lbfgs', { historySize: 2.5 }],
      ['lbfgs', { learningRate: -1 }],
      ['lbfgs', { tolerance: { gradient: Number.NaN } }],
      ['adam', { learningRate: 0 }],
      ['adam', { beta1: 1 }],
      ['adam', { beta2: -0.1 }],
      ['adam', { epsilon: 0 }],
      ['sgd' as OptimiserKind, {}],
    ];
    for (const [kind, options] of bad) {
      expect(() => createOptimiser(kind, x0, objective, options)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      );
    }
  });

  it.each(['lbfgs', 'adam'] as const)(
    '%s throws a clear NstError when the loss or gradient is not finite',
    async (kind) => {
      const { objective } = quadratic(4, 10);
      for (const poison of [
        (e: Evaluation) => ({ ...e, loss: Number.NaN }),
        (e: Evaluation) => ({ ...e, loss: Number.POSITIVE_INFINITY }),
        (e: Evaluation) => ({ ...e, grad: e.grad.map((g, i) => (i === 2 ? Number.NaN : g)) }),
      ]) {
        let calls = 0;
        const optimiser = createOptimiser(kind, new Float32Array(4), async (x) => {
          const e = await objective(x);
          return ++calls === 3 ? poison(e) : e;
        });
        await optimiser.step();
        const failure = kind === 'lbfgs' ? optimiser.step() : optimiser.step().then(() => optimiser.step());
        await expect(failure).rejects.toThrow(NstError);
        await expect(failure).rejects.toMatchObject({
          code: 'INTERNAL',
          message: expect.stringMatching(/not finite/),
        });
      }
    },
  );

  it('rejects a gradient whose length differs from x', async () => {
    const optimiser = createOptimiser('lbfgs', new Float32Array(4), async () => ({
      loss: 1,
      grad: new Float32Array(3),
    }));
    await expect(optimiser.step()).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringMatching(/3 entries/),
    });
  });
});

describe('L-BFGS', () => {
  it('fixed step: evaluates x0 in the first step, then exactly once per step, reporting the new x', async () => {
    const { objective } = rosenbrock(6);
    const f = counted(objective);
    const x0 = classicStart(6);
    const optimiser = createOptimiser('lbfgs', x0, f, { learningRate: 0.5 });

    const g0 = (await objective(x0)).grad;
    const first = await optimiser.step();
    expect(first.evaluations).toBe(2);
    // First step: t = min(1, 1/|g|_1) * lr along -g.
    const t = Math.min(1, 1 / g0.reduce((s, g) => s + Math.abs(g), 0)) * 0.5;
    expect(Array.from(optimiser.x)).toEqual(Array.from(Float32Array.from(x0, (x, i) => x - t * g0[i])));

    for (let i = 0; i < 20; i++) {
      const before = f.calls;
      const step = await optimiser.step();
      expect(step.evaluations).toBe(1);
      expect(f.calls - before).toBe(1);
      // The reported evaluation is at the optimiser's current x.
      const here = await objective(optimiser.x);
      expect(step.evaluation.loss).toBe(here.loss);
      expect(Array.from(step.evaluation.grad)).toEqual(Array.from(here.grad));
    }
  });

  it.each([
    ['none', 300],
    ['strong-wolfe', 200],
  ] as const)(
    'reaches the minimum of a rotated quadratic in 50 dims, condition 1e3 (line search %s)',
    async (lineSearch, maxSteps) => {
      const { objective, xStar } = quadratic(50, 1e3);
      const optimiser = createOptimiser('lbfgs', new Float32Array(50), objective, { lineSearch });
      const { converged } = await run(optimiser, maxSteps);
      expect(converged).toBe(true);
      expect(maxError(optimiser.x, xStar)).toBeLessThan(1e-3);
    },
  );

  it('with history 5 takes hundreds of steps through its ring buffer and still converges', async () => {
    const { objective, xStar } = quadratic(50, 1e3);
    const optimiser = createOptimiser('lbfgs', new Float32Array(50), objective, { historySize: 5 });
    const { steps, converged } = await run(optimiser, 1000);
    expect(steps).toBeGreaterThan(100);
    expect(converged).toBe(true);
    expect(maxError(optimiser.x, xStar)).toBeLessThan(1e-3);
  });

  it('with history 3 follows a step-by-step float64 reference once the ring has wrapped many times', async () => {
    const n = 12;
    const m = 3;
    const { objective } = quadratic(n, 100, 7);
    const x0 = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const optimiser = createOptimiser('lbfgs', x0, objective, { historySize: m, learningRate: 0.8 });
    const reference = referenceLbfgs(objective, x0, m, 0.8);
    // 25 steps wrap the 3-slot ring 7 times; later, near x*, float32 gradient differences make the two drift.
    for (let k = 0; k < 25; k++) {
      await optimiser.step();
      const expected = await reference.step();
      expect(maxError(optimiser.x, expected)).toBeLessThan(1e-4);
    }
  });

  it.each([2, 10])('reaches x* = ones on Rosenbrock %i-D with the strong-Wolfe line search', async (n) => {
    const { objective, xStar } = rosenbrock(n);
    const optimiser = createOptimiser('lbfgs', classicStart(n), objective, { lineSearch: 'strong-wolfe' });
    const { steps, converged } = await run(optimiser, 200);
    expect(converged).toBe(true);
    expect(steps).toBeLessThan(100);
    expect(maxError(optimiser.x, xStar)).toBeLessThan(1e-4);
  });

  it('line search: never increases the loss and spends 1 to 25 evaluations per step', async () => {
    const { objective } = rosenbrock(10);
    const optimiser = createOptimiser('lbfgs', classicStart(10), objective, { lineSearch: 'strong-wolfe' });
    let previous = (await objective(classicStart(10))).loss;
    for (let k = 0; k < 60; k++) {
      const step = await optimiser.step();
      expect(step.evaluation.loss).toBeLessThanOrEqual(previous);
      expect(step.evaluations).toBeGreaterThanOrEqual(1);
      expect(step.evaluations).toBeLessThanOrEqual(k === 0 ? 26 : 25);
      previous = step.evaluation.loss;
      if (step.converged) break;
    }
  });

  it('line search: the reported gradient is the one at x, even when the engine reuses its buffer', async () => {
    const { objective } = rosenbrock(10);
    const shared = new Float32Array(10);
    const reusing = async (x: Float32Array) => {
      const e = await objective(x);
      shared.set(e.grad);
      return { loss: e.loss, grad: shared };
    };
    const a = createOptimiser('lbfgs', classicStart(10), reusing, { lineSearch: 'strong-wolfe' });
    const b = createOptimiser('lbfgs', classicStart(10), objective, { lineSearch: 'strong-wolfe' });
    for (let k = 0; k < 40; k++) {
      const step = await a.step();
      await b.step();
      expect(Array.from(a.x)).toEqual(Array.from(b.x));
      expect(Array.from(step.evaluation.grad)).toEqual(Array.from((await objective(a.x)).grad));
    }
  });

  it('fixed step (lr 1) reaches x* on Rosenbrock 2-D from (-1.2, 1) and 10-D from zeros', async () => {
    for (const [n, x0] of [
      [2, classicStart(2)],
      [10, new Float32Array(10)],
    ] as const) {
      const { objective, xStar } = rosenbrock(n);
      const optimiser = createOptimiser('lbfgs', x0, objective);
      const { converged } = await run(optimiser, 300);
      expect(converged).toBe(true);
      expect(maxError(optimiser.x, xStar)).toBeLessThan(1e-4);
    }
  });

  it('fixed step (lr 0.5) settles in the local minimum of Rosenbrock 10-D from the classic start; the line search does not', async () => {
    // With no sufficient-decrease test the fixed step goes where the first big steps throw it: the
    // extended Rosenbrock's local minimum near (-1, 1, ..., 1), loss ~3.99. That is what `lineSearch` is for.
    const { objective } = rosenbrock(10);
    const optimiser = createOptimiser('lbfgs', classicStart(10), objective, { learningRate: 0.5 });
    const { converged } = await run(optimiser, 1000);
    expect(converged).toBe(true);
    expect((await objective(optimiser.x)).loss).toBeCloseTo(3.99, 2);
    expect(optimiser.x[0]).toBeCloseTo(-0.99, 2);
  });

  it('reports convergence at a stationary x0 after one evaluation, and then stays put for free', async () => {
    const { objective, xStar } = quadratic(6, 10);
    const f = counted(objective);
    const x0 = Float32Array.from(xStar);
    const optimiser = createOptimiser('lbfgs', x0, async (x) => ({
      ...(await f(x)),
      grad: new Float32Array(6),
    }));
    expect(await optimiser.step()).toMatchObject({ evaluations: 1, converged: true });
    expect(await optimiser.step()).toMatchObject({ evaluations: 0, converged: true });
    expect(f.calls).toBe(1);
    expect(Array.from(optimiser.x)).toEqual(Array.from(x0));
  });

  it("skips curvature pairs with s'y = 0 (a linear loss) instead of dividing by zero", async () => {
    // f = w'x has y = 0 at every step: with no usable pair the direction stays -w and t = lr / |w|_1.
    const w = Float32Array.from([1, -2, 0.5, 4]);
    const objective = async (x: Float32Array) => ({ loss: dot(w, x), grad: w.slice() });
    const optimiser = createOptimiser('lbfgs', new Float32Array(4), objective, { learningRate: 2 });
    const t = 2 / 7.5;
    for (let k = 1; k <= 10; k++) {
      const step = await optimiser.step();
      expect(step.converged).toBe(false);
      expect(
        maxError(
          optimiser.x,
          Array.from(w, (wi) => -k * t * wi),
        ),
      ).toBeLessThan(1e-5);
      expect(step.evaluation.loss).toBeCloseTo(-k * t * dot(w, w), 4);
    }
  });
});

describe('Adam', () => {
  it('evaluates once per step, at x before the update, and never claims convergence', async () => {
    const { objective } = rosenbrock(4);
    const f = counted(objective);
    const optimiser = createOptimiser('adam', classicStart(4), f, { learningRate: 0.01 });
    for (let k = 1; k <= 20; k++) {
      const before = optimiser.x.slice();
      const step = await optimiser.step();
      expect(step).toMatchObject({ evaluations: 1, converged: false });
      expect(f.calls).toBe(k);
      expect(step.evaluation.loss).toBe((await objective(before)).loss);
    }
  });

  it('moves each coordinate by about lr against the gradient sign on its first step (bias correction)', async () => {
    const { objective } = quadratic(8, 100);
    const x0 = new Float32Array(8);
    const g0 = (await objective(x0)).grad;
    const optimiser = createOptimiser('adam', x0, objective, { learningRate: 0.25 });
    await optimiser.step();
    expect(
      maxError(
        optimiser.x,
        Array.from(g0, (g) => -0.25 * Math.sign(g)),
      ),
    ).toBeLessThan(1e-6);
  });

  it('reaches the minimum of a rotated quadratic in 50 dims, condition 1e3 (lr 0.1, 5000 steps)', async () => {
    const { objective, xStar } = quadratic(50, 1e3);
    const optimiser = createOptimiser('adam', new Float32Array(50), objective, { learningRate: 0.1 });
    await run(optimiser, 5000);
    expect(maxError(optimiser.x, xStar)).toBeLessThan(1e-3);
  });

  it.each([
    [2, classicStart(2)],
    [10, new Float32Array(10)],
  ])('reaches x* = ones on Rosenbrock %i-D (lr 0.01, 20000 steps)', async (n, x0) => {
    const { objective, xStar } = rosenbrock(n);
    const optimiser = createOptimiser('adam', x0, objective, { learningRate: 0.01 });
    await run(optimiser, 20_000);
    expect(maxError(optimiser.x, xStar)).toBeLessThan(1e-3);
  });
});

/**
 * A plain float64 L-BFGS with the same step policy (fixed step; t = min(1, 1/|g|_1) lr while it has no
 * curvature pair, then lr), keeping its history as an array it shifts: the ring buffer must agree with it.
 */
function referenceLbfgs(objective: Objective, x0: Float32Array, m: number, lr: number) {
  const n = x0.length;
  const x = Float64Array.from(x0);
  const pairs: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  let g: Float64Array | undefined;
  const gradient = async () => Float64Array.from((await objective(Float32Array.from(x))).grad);
  return {
    async step(): Promise<Float64Array> {
      g ??= await gradient();
      const d = g.map((v) => -v);
      const alphas: number[] = [];
      for (let k = pairs.length - 1; k >= 0; k--) {
        alphas[k] = pairs[k].rho * dot(pairs[k].s, d);
        axpy(-alphas[k], pairs[k].y, d);
      }
      const newest = pairs.at(-1);
      const gamma = newest ? dot(newest.s, newest.y) / dot(newest.y, newest.y) : 1;
      for (let i = 0; i < n; i++) d[i] *= gamma;
      for (let k = 0; k < pairs.length; k++) {
        axpy(alphas[k] - pairs[k].rho * dot(pairs[k].y, d), pairs[k].s, d);
      }
      const t = pairs.length === 0 ? Math.min(1, 1 / g.reduce((s, v) => s + Math.abs(v), 0)) * lr : lr;
      const s = d.map((v) => t * v);
      axpy(1, s, x);
      const gNew = await gradient();
      const y = gNew.map((v, i) => v - (g as Float64Array)[i]);
      if (dot(s, y) > 1e-8 * Math.sqrt(dot(s, s) * dot(y, y))) {
        pairs.push({ s, y, rho: 1 / dot(s, y) });
        if (pairs.length > m) pairs.shift();
      }
      g = gNew;
      return x;
    },
  };
}
