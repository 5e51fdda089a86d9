/** The run clock: ETAs at the run's own rate, none before ETA_MIN_ITERATIONS of it. */
import { describe, expect, it } from 'vitest';
import { ETA_MIN_ITERATIONS, RunClock } from '../../../src/engine/run-clock.js';

describe('RunClock', () => {
  /** Two scales of equal work, 20 iterations each; a clock the test moves. */
  const scales = [
    { width: 10, height: 10, iterations: 20 },
    { width: 10, height: 10, iterations: 20 },
  ];
  const perIteration = 10 * 10;

  it("estimates from this run's own rate: work resumed from a checkpoint took this run no time", () => {
    let ms = 0;
    const clock = new RunClock(scales, () => ms);
    clock.resumed(20 * perIteration, 20); // the first scale, done by an earlier run
    for (let i = 0; i < ETA_MIN_ITERATIONS; i++) {
      ms += 1000;
      clock.count(perIteration, 1);
    }
    // 10 s for 10 iterations; 10 of the 40 left: 10 s more. Counting the resumed 20 as this run's would say 3.3 s.
    expect(clock.done).toBe(30);
    expect(clock.eta()).toBeCloseTo(10, 9);
  });

  it('has no estimate before ETA_MIN_ITERATIONS of this run, however many were resumed', () => {
    let ms = 0;
    const clock = new RunClock(scales, () => ms);
    clock.resumed(30 * perIteration, 30);
    for (let i = 1; i < ETA_MIN_ITERATIONS; i++) {
      ms += 1000;
      clock.count(perIteration, 1);
      expect(clock.eta()).toBeUndefined();
    }
    ms += 1000;
    clock.count(perIteration, 1);
    expect(clock.eta()).toBe(0);
  });
});
