import { describe, expect, it } from 'vitest';
import { createOptimiser } from '../../../../src/engine/optim/index.js';
import {
  classicStart,
  counted,
  maxError,
  quadratic,
  rosenbrock,
  run,
} from '../../../helpers/optim-problems.js';

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
