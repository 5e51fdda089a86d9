/** What `nst submit --wait` shows: the bar on a terminal, else a line per status change and every 15 s at most. */
import { describe, expect, it } from 'vitest';
import { watchJob } from '../../../src/cli/job-watch.js';
import { PROGRESS_WRITE_INTERVAL_MS } from '../../../src/jobs/job-progress.js';
import type { JobManifest, JobProgress } from '../../../src/jobs/manifest.js';

const at = (done: number): JobProgress => ({
  scaleIndex: 0,
  scaleCount: 1,
  width: 32,
  height: 24,
  iteration: done,
  scaleIterations: 10,
  done,
  total: 10,
  percent: done * 10,
  elapsedSeconds: done,
  etaSeconds: 10 - done,
  loss: { content: 1, style: 2, tv: 3, total: 6 },
  updatedAt: '2026-03-01T10:00:00.000Z',
});

const job = (status: JobManifest['status'], progress?: JobProgress) =>
  ({ jobId: 'j-1', status, progress }) as JobManifest;

describe('watchJob', () => {
  it('off a terminal: a line at each status change, progress lines at most every interval', () => {
    const lines: string[] = [];
    let ms = 0;
    const watch = watchJob({ tty: false, write: (l) => lines.push(l), now: () => ms });
    watch.update(job('queued'));
    watch.update(job('running'));
    ms += 1000;
    watch.update(job('running', at(1)));
    ms += PROGRESS_WRITE_INTERVAL_MS;
    watch.update(job('running', at(4)));
    ms += 1000;
    watch.update(job('running', at(5)));
    watch.update(job('succeeded', { ...at(10), percent: 100, etaSeconds: 0 }));
    watch.stop();
    expect(lines).toEqual([
      'nst: job j-1: queued',
      'nst: job j-1: running',
      'nst: job j-1: running, scale 1/1 (32x24), iteration 4/10, 4/10 (40%), ETA 6 s, loss 6.000e+0',
      'nst: job j-1: succeeded, scale 1/1 (32x24), iteration 10/10, 10/10 (100%), done, loss 6.000e+0',
    ]);
  });

  it("on a terminal: the status until progress arrives, then the bar with job.json's progress", () => {
    const lines: string[] = [];
    const shown: number[] = [];
    let stopped = 0;
    const watch = watchJob({
      tty: true,
      write: (l) => lines.push(l),
      bar: () => ({ update: (p) => shown.push(p.done), stop: () => stopped++ }),
    });
    watch.update(job('queued'));
    watch.update(job('running'));
    watch.update(job('running', at(2)));
    watch.update(job('running', at(7)));
    watch.update(job('succeeded', at(10)));
    watch.stop();
    expect(lines).toEqual(['nst: job j-1: queued', 'nst: job j-1: running']);
    expect(shown).toEqual([2, 7, 10]); // the finished job's last progress completes the bar
    expect(stopped).toBe(1);
  });
});
