/** Live progress in job.json: the throttle, one write in flight, failures not fatal, close() orders writes. */
import { describe, expect, it } from 'vitest';
import type { Progress } from '../../../../src/engine/stylize.js';
import { LiveProgress, PROGRESS_WRITE_INTERVAL_MS } from '../../../../src/jobs/lifecycle/live-progress.js';
import { completed, type JobProgress, jobProgress } from '../../../../src/jobs/lifecycle/manifest.js';

const terms = { content: 1, style: 2, tv: 0.5, total: 3.5 };

/** Iteration `done` of a 2-scale run of 10 + 10 iterations. */
const progressAt = (done: number): Progress => ({
  scaleIndex: done > 10 ? 1 : 0,
  scaleCount: 2,
  width: done > 10 ? 64 : 32,
  height: done > 10 ? 48 : 24,
  iteration: done > 10 ? done - 10 : done,
  scaleIterations: 10,
  done,
  total: 20,
  terms,
  elapsedSeconds: done * 1.23456,
  etaSeconds: (20 - done) * 1.5,
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A sink whose writes finish only when the test says so; a fake clock. */
function fakeSink() {
  let ms = 1_000_000;
  const writes: { progress: JobProgress; finish: (error?: Error) => void }[] = [];
  const warnings: string[] = [];
  const order: string[] = [];
  return {
    writes,
    warnings,
    order,
    advance: (by: number) => {
      ms += by;
    },
    sink: {
      now: () => new Date(ms),
      warn: (message: string) => warnings.push(message),
      write: (progress: JobProgress) =>
        new Promise<void>((resolve, reject) => {
          writes.push({
            progress,
            finish: (error) => {
              order.push(`progress ${progress.done} landed`);
              if (error) reject(error);
              else resolve();
            },
          });
        }),
    },
  };
}

describe('jobProgress', () => {
  it("is the engine's progress with percent, rounded seconds, the latest loss and the time", () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(jobProgress(progressAt(7), at)).toEqual({
      scaleIndex: 0,
      scaleCount: 2,
      width: 32,
      height: 24,
      iteration: 7,
      scaleIterations: 10,
      done: 7,
      total: 20,
      percent: 35,
      elapsedSeconds: 8.642,
      etaSeconds: 20,
      loss: terms,
      updatedAt: '2026-01-02T03:04:05.678Z',
    });
    // Never rounded up to 100 before the last iteration; 100 once succeeded.
    const almost = jobProgress({ ...progressAt(20), done: 1999, total: 2000 }, at);
    expect(almost.percent).toBe(99.9);
    expect(completed(almost)).toMatchObject({ percent: 100, etaSeconds: 0, done: 1999 });
  });

  it('carries no ETA while the engine has none (its first iterations)', () => {
    const early = jobProgress({ ...progressAt(3), etaSeconds: undefined }, new Date(0));
    expect(Object.keys(early)).not.toContain('etaSeconds');
    expect(JSON.parse(JSON.stringify(early))).not.toHaveProperty('etaSeconds');
  });
});

describe('LiveProgress', () => {
  it('writes the first progress at once, then at most every interval, one write in flight', async () => {
    const f = fakeSink();
    const live = new LiveProgress(f.sink);
    live.update(progressAt(1));
    expect(f.writes.map((w) => w.progress.done)).toEqual([1]);
    // Within the interval: nothing more, however many iterations.
    for (let done = 2; done <= 5; done++) {
      f.advance(1000);
      live.update(progressAt(done));
    }
    f.writes[0].finish();
    await settle();
    f.advance(PROGRESS_WRITE_INTERVAL_MS);
    live.update(progressAt(6));
    expect(f.writes.map((w) => w.progress.done)).toEqual([1, 6]);
    // The interval passes while that write is still in flight: no second concurrent write.
    f.advance(PROGRESS_WRITE_INTERVAL_MS);
    live.update(progressAt(7));
    expect(f.writes).toHaveLength(2);
    f.writes[1].finish();
    await settle();
    live.update(progressAt(8));
    expect(f.writes.map((w) => w.progress.done)).toEqual([1, 6, 8]);
    f.writes[2].finish();
    expect((await live.close())?.done).toBe(8);
  });

  it('logs a failed write and goes on writing', async () => {
    const f = fakeSink();
    const live = new LiveProgress(f.sink);
    live.update(progressAt(1));
    f.writes[0].finish(new Error('cannot write s3://b/outputs/j/job.json: socket hang up'));
    await settle();
    expect(f.warnings).toEqual(['progress not written to job.json (the run goes on)']);
    f.advance(PROGRESS_WRITE_INTERVAL_MS);
    live.update(progressAt(2));
    expect(f.writes).toHaveLength(2);
    f.writes[1].finish();
    await live.close();
  });

  it('close() waits for the write in flight, so the final job.json is written after it; later updates write nothing', async () => {
    const f = fakeSink();
    const live = new LiveProgress(f.sink);
    live.update(progressAt(3));
    f.advance(500);
    live.update(progressAt(4));
    const closing = live.close().then((latest) => {
      f.order.push('final job.json');
      return latest;
    });
    await settle();
    expect(f.order).toEqual([]); // still waiting for the progress write
    f.writes[0].finish();
    expect((await closing)?.done).toBe(4); // the latest progress, though never written
    expect(f.order).toEqual(['progress 3 landed', 'final job.json']);
    f.advance(PROGRESS_WRITE_INTERVAL_MS);
    live.update(progressAt(5));
    expect(f.writes).toHaveLength(1);
  });
});
