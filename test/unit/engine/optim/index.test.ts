import { describe, expect, it } from 'vitest';
import {
  type AdamOptions,
  createOptimiser,
  type Evaluation,
  type LbfgsOptions,
  type OptimiserKind,
} from '../../../../src/engine/optim/index.js';
import { NstError } from '../../../../src/errors.js';
import { maxError, quadratic } from '../../../helpers/optim-problems.js';

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
