/**
 * Iterate averaging, as crowsonkb/style-transfer-pytorch does for Adam: an exponential moving average of
 * the iterates with decay d, bias-corrected as Adam's moments are, becomes the result. Adam with a fixed
 * step keeps jittering around the optimum; the average sits still at its centre, so the image is smoother
 * for the same iterations.
 *
 * The samples are the starting point x_0 and each iterate after a step. With the uncorrected average
 * v_t = d v_(t-1) + (1 - d) x_t (v_(-1) = 0), the corrected one is a_t = v_t / (1 - d^(t+1)): the
 * reference's EMA class, whose first update is the starting image. Kept corrected in one pass:
 * a_t = a_(t-1) + w_t (x_t - a_(t-1)) with w_t = (1 - d) / (1 - d^(t+1)), so a_0 = x_0, and d = 0 is the
 * latest iterate (averaging off).
 */
import { NstError } from '../../errors.js';
import type { Evaluation, Optimiser, StepResult } from './types.js';

/**
 * The default decay for Adam: off, measured (README, "Iterate averaging"). At issue 11's default schedule
 * (60 then 100 iterations from 256 px, beta 1e3) 0.9 raised the final loss 1.7% and 3.4% on two pairs at 384 px, with no visible
 * difference; it ties plain Adam only from about 200 iterations a scale (where it also damps Adam's loss
 * spikes: `--average-decay 0.9` for long runs). 0.99, the reference's default for 500+ iterations a
 * scale, lags far behind at this product's schedules.
 */
export const ADAM_AVERAGE_DECAY = 0;

/**
 * The optimiser with its `x` replaced by the average of its iterates (the input when decay is 0). Each
 * step's evaluation is still the inner optimiser's, at its own iterate: the average is never evaluated
 * here (the caller evaluates it when it needs its loss).
 */
export function averageIterates<E extends Evaluation>(inner: Optimiser<E>, decay: number): Optimiser<E> {
  if (!(decay >= 0 && decay < 1)) {
    throw new NstError('INVALID_OPTION', `the average decay must be in [0, 1) (got ${decay})`);
  }
  return decay === 0 ? inner : new AveragedOptimiser(inner, decay);
}

class AveragedOptimiser<E extends Evaluation> implements Optimiser<E> {
  /** The bias-corrected average of the samples so far. */
  readonly x: Float32Array;
  private samples = 1;

  constructor(
    private readonly inner: Optimiser<E>,
    private readonly decay: number,
  ) {
    this.x = Float32Array.from(inner.x);
  }

  get gamma(): number | undefined {
    return this.inner.gamma;
  }

  async step(): Promise<StepResult<E>> {
    const result = await this.inner.step();
    this.samples++;
    const w = (1 - this.decay) / (1 - this.decay ** this.samples);
    const { x } = this;
    const latest = this.inner.x;
    for (let i = 0; i < x.length; i++) x[i] += w * (latest[i] - x[i]);
    return result;
  }
}
