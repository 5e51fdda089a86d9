/** Routing: here, Batch, or refuse, from the estimate of the work left. */
import { describe, expect, it } from 'vitest';
import { chooseRoute, ESTIMATE_SAFETY_FACTOR, remainingSeconds } from '../../../src/jobs/routing.js';

describe('routing', () => {
  const estimate = {
    scales: [
      { width: 32, height: 32, iterations: 10, seconds: 10 },
      { width: 64, height: 64, iterations: 10, seconds: 30 },
    ],
  };

  it('counts only the work after a checkpoint', () => {
    expect(remainingSeconds(estimate)).toBe(40);
    expect(remainingSeconds(estimate, { scaleIndex: 0, iteration: 5 })).toBe(35);
    expect(remainingSeconds(estimate, { scaleIndex: 1, iteration: 5 })).toBe(15);
  });

  it('runs here when it fits with the safety factor, else Batch, else refuses a new job', () => {
    const fits = 40 * ESTIMATE_SAFETY_FACTOR;
    expect(chooseRoute({ estimate, availableSeconds: fits, batchConfigured: false })).toEqual({
      target: 'here',
      seconds: 40,
    });
    expect(chooseRoute({ estimate, batchConfigured: false })).toEqual({ target: 'here', seconds: 40 });
    expect(chooseRoute({ estimate, availableSeconds: fits - 1, batchConfigured: true })).toEqual({
      target: 'batch',
      seconds: 40,
    });
    expect(chooseRoute({ estimate, availableSeconds: 10, batchConfigured: false })).toEqual({
      target: 'too-large',
      seconds: 40,
      availableSeconds: 10,
    });
    // A continuation keeps going (and checkpoints again) rather than being refused half done.
    expect(
      chooseRoute({
        estimate,
        availableSeconds: 10,
        batchConfigured: false,
        resume: { scaleIndex: 1, iteration: 0 },
      }),
    ).toEqual({
      target: 'here',
      seconds: 30,
    });
  });
});
