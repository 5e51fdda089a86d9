/** `nst serve`'s progress log words the engine's progress as `nst status` and `nst submit --wait` do. */
import { describe, expect, it } from 'vitest';
import { jobLine } from '../../../src/cli/progress-text.js';
import { progressReporter } from '../../../src/cli/serve.js';
import type { Progress } from '../../../src/engine/stylize.js';
import { jobProgress } from '../../../src/jobs/lifecycle/manifest.js';

const progress = (done: number, etaSeconds?: number): Progress => ({
  scaleIndex: 1,
  scaleCount: 3,
  width: 181,
  height: 136,
  iteration: done - 200,
  scaleIterations: 200,
  done,
  total: 600,
  terms: { content: 7.135e9, style: 2.056e9, tv: 3.185e4, total: 9.191e9 },
  elapsedSeconds: 80,
  etaSeconds,
});

describe('progressReporter', () => {
  it("prints the job's line as --wait does: done of total, the ETA once there is one", () => {
    const lines: string[] = [];
    const report = progressReporter((l) => lines.push(l), 0);
    report('j-1', progress(205));
    report('j-1', progress(351, 58.4));
    expect(lines).toEqual([
      'nst: job j-1: running, scale 2/3 (181x136), iteration 5/200, 34.1% (205/600), no ETA yet, loss 9.191e+9',
      'nst: job j-1: running, scale 2/3 (181x136), iteration 151/200, 58.5% (351/600), ETA 58 s, loss 9.191e+9',
    ]);
    expect(lines[1]).toBe(jobLine('j-1', 'running', jobProgress(progress(351, 58.4), new Date())));
  });
});

describe('progress at a tiled scale', () => {
  it('says how many tile rounds are done at which scale, and job.json keeps the count', () => {
    const tiled: Progress = {
      ...progress(420),
      scaleIndex: 2,
      width: 4096,
      height: 3072,
      tiles: { done: 12, total: 48 },
    };
    const p = jobProgress(tiled, new Date('2026-01-01T00:00:00Z'));
    expect(p.tiles).toEqual({ done: 12, total: 48 });
    expect(jobLine('j-2', 'running', p)).toBe(
      'nst: job j-2: running, tiles 12/48 at scale 3/3 (4096x3072), 70% (420/600), no ETA yet, loss 9.191e+9',
    );
    expect(jobProgress(progress(205), new Date())).not.toHaveProperty('tiles');
  });
});
