/** Iterate averaging: the bias-corrected EMA of crowsonkb/style-transfer-pytorch, over any optimiser. */
import { describe, expect, it } from 'vitest';
import { averageIterates, createOptimiser, type Optimiser } from '../../../../src/engine/optim/index.js';
import { maxError, run } from '../../../helpers/optim-problems.js';
import { thrown } from '../../../helpers/thrown.js';

/** An "optimiser" whose iterates are given: x_t = path(t). */
function scripted(path: (t: number) => number[]): Optimiser & { t: number } {
  const x = Float32Array.from(path(0));
  const evaluation = { loss: 0, grad: new Float32Array(x.length) };
  return {
    x,
    t: 0,
    async step() {
      this.t++;
      x.set(path(this.t));
      return { evaluation, evaluations: 1, converged: false };
    },
  };
}

/** The reference's EMA, as written there: value 0, accum 1, updated with the starting point, then each iterate. */
function referenceEma(samples: number[][], decay: number): number[] {
  let value = samples[0].map(() => 0);
  let accum = 1;
  for (const x of samples) {
    accum *= decay;
    value = value.map((v, i) => v * decay + (1 - decay) * x[i]);
  }
  return value.map((v) => v / (1 - accum));
}

describe('averageIterates', () => {
  const path = (t: number) => [Math.sin(t) * 10, t, (-1) ** t * 5 + 100];

  it.each([0.5, 0.9, 0.99])(
    'is the bias-corrected EMA of the start and the iterates (decay %f)',
    async (decay) => {
      const averaged = averageIterates(scripted(path), decay);
      expect(Array.from(averaged.x)).toEqual(path(0));
      const samples = [path(0)];
      for (let t = 1; t <= 40; t++) {
        await averaged.step();
        samples.push(path(t));
        expect(maxError(averaged.x, referenceEma(samples, decay))).toBeLessThan(1e-3);
      }
    },
  );

  it('is the optimiser itself at decay 0 (off), and reports its steps unchanged otherwise', async () => {
    const inner = scripted(path);
    expect(averageIterates(inner, 0)).toBe(inner);
    const averaged = averageIterates(inner, 0.9);
    const step = await averaged.step();
    expect(step).toMatchObject({ evaluations: 1, converged: false, evaluation: { loss: 0 } });
    // Its own copy: the inner iterate moved, the average only part of the way.
    expect(averaged.x).not.toBe(inner.x);
    expect(maxError(inner.x, path(1))).toBeLessThan(1e-6);
  });

  it('refuses a decay outside [0, 1)', () => {
    for (const decay of [-0.5, 1, Number.NaN]) {
      expect(thrown(() => averageIterates(scripted(path), decay)).code).toBe('INVALID_OPTION');
    }
  });

  it("lands nearer the optimum than Adam's last iterate, which jitters at a fixed step", async () => {
    // A quadratic bowl with noisy gradients: Adam's iterate keeps moving about lr around x* = 3.
    const n = 50;
    let state = 12345;
    const noise = () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 30 - 1;
    };
    const objective = async (x: Float32Array) => ({
      loss: x.reduce((a, v) => a + 0.5 * (v - 3) ** 2, 0),
      grad: x.map((v) => v - 3 + 2 * noise()),
    });
    const adam = createOptimiser('adam', new Float32Array(n), objective, { learningRate: 0.1 });
    const averaged = averageIterates(adam, 0.99);
    await run(averaged, 1000);
    const rms = (x: Float32Array) => Math.sqrt(x.reduce((a, v) => a + (v - 3) ** 2, 0) / n);
    expect(rms(adam.x)).toBeGreaterThan(0.1);
    expect(rms(averaged.x)).toBeLessThan(rms(adam.x) / 2);
  });
});
