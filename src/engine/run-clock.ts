/**
 * The clock of one stylize() run: iterations and work done over all its scales, for progress and its ETA.
 */
import { type Scale, scaleWork } from './schedule.js';

/**
 * Iterations before a run's first ETA: the first ones include building the engine (and a resumed run's
 * start-up), so an estimate from them would be far off.
 */
export const ETA_MIN_ITERATIONS = 10;

/**
 * Iterations and work done over all scales. Work resumed from a checkpoint counts as done but not towards
 * the rate: it was done by another run, in that run's time.
 */
export class RunClock {
  readonly total: number;
  private readonly totalWork: number;
  private readonly started: number;
  done = 0;
  private workDone = 0;
  private runWork = 0;
  /** Iterations this run has done (not those resumed). */
  iterationsRun = 0;

  constructor(
    scales: readonly Scale[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.total = scales.reduce((sum, s) => sum + s.iterations, 0);
    this.totalWork = scales.reduce((sum, s) => sum + scaleWork(s), 0);
    this.started = now();
  }

  /** Work a checkpoint says was done before this run. */
  resumed(work: number, iterations: number): void {
    this.workDone += work;
    this.done += iterations;
  }

  /** Work this run has done. */
  count(work: number, iterations: number): void {
    this.resumed(work, iterations);
    this.runWork += work;
    this.iterationsRun += iterations;
  }

  elapsed(): number {
    return (this.now() - this.started) / 1000;
  }

  /** Seconds left at this run's own rate; undefined for its first ETA_MIN_ITERATIONS iterations. */
  eta(): number | undefined {
    if (this.iterationsRun < ETA_MIN_ITERATIONS) return undefined;
    return (this.elapsed() * Math.max(0, this.totalWork - this.workDone)) / this.runWork;
  }
}
