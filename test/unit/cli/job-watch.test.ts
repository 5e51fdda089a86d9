/**
 * What `nst submit --wait` shows: off a terminal, a line per status change and per new progress in job.json;
 * on a terminal the bar, stopped at each status change (a failure, a hand-off) with its line.
 */
import { describe, expect, it } from 'vitest';
import { watchJob } from '../../../src/cli/job-watch.js';
import type { JobManifest, JobProgress } from '../../../src/jobs/lifecycle/manifest.js';

/** Progress at iteration `done` of 10, written `done` seconds into the job. */
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
  updatedAt: `2026-03-01T10:00:${String(done).padStart(2, '0')}.000Z`,
});

const job = (status: JobManifest['status'], progress?: JobProgress) =>
  ({ jobId: 'j-1', status, progress }) as JobManifest;

/** A watch on a terminal whose bar records what it is shown. */
function onTerminal() {
  const lines: string[] = [];
  const events: string[] = [];
  const watch = watchJob({
    tty: true,
    write: (l) => {
      lines.push(l);
      events.push('line');
    },
    bar: () => {
      events.push('bar');
      return { update: (p) => events.push(`${p.done}`), stop: () => events.push('stop') };
    },
  });
  return { watch, lines, events };
}

describe('watchJob off a terminal', () => {
  it('prints a line at each status change and each new progress, the first progress included', () => {
    const lines: string[] = [];
    const watch = watchJob({ tty: false, write: (l) => lines.push(l) });
    watch.update(job('queued'));
    watch.update(job('running'));
    watch.update(job('running', at(1))); // the first progress, written right after the first iteration
    watch.update(job('running', at(4)));
    watch.update(job('running', at(4))); // the same version read again: nothing new
    watch.update(job('succeeded', { ...at(10), percent: 100, etaSeconds: 0 }));
    watch.stop();
    expect(lines).toEqual([
      'nst: job j-1: queued',
      'nst: job j-1: running',
      'nst: job j-1: running, scale 1/1 (32x24), iteration 1/10, 10% (1/10), ETA 9 s, loss 6.000e+0',
      'nst: job j-1: running, scale 1/1 (32x24), iteration 4/10, 40% (4/10), ETA 6 s, loss 6.000e+0',
      'nst: job j-1: succeeded, scale 1/1 (32x24), iteration 10/10, 100% (10/10), done, loss 6.000e+0',
    ]);
  });

  it('words a failed job by where it stopped, a handed-off one as waiting', () => {
    const lines: string[] = [];
    const watch = watchJob({ tty: false, write: (l) => lines.push(l) });
    watch.update(job('running', at(3)));
    watch.update(job('queued', at(3)));
    watch.update(job('failed', at(3)));
    expect(lines.slice(1)).toEqual([
      'nst: job j-1: queued, scale 1/1 (32x24), iteration 3/10, 30% (3/10), waiting to continue, loss 6.000e+0',
      'nst: job j-1: failed, scale 1/1 (32x24), iteration 3/10, stopped at 30% (3/10), loss 6.000e+0',
    ]);
  });
});

describe('watchJob on a terminal', () => {
  it("shows the status until progress arrives, then the bar; the finished job's progress completes it", () => {
    const { watch, lines, events } = onTerminal();
    watch.update(job('queued'));
    watch.update(job('running'));
    watch.update(job('running', at(2)));
    watch.update(job('running', at(7)));
    watch.update(job('succeeded', { ...at(10), percent: 100, etaSeconds: 0 }));
    watch.stop();
    expect(events).toEqual(['line', 'line', 'bar', '2', '7', '10', 'stop', 'line']);
    expect(lines.slice(0, 2)).toEqual(['nst: job j-1: queued', 'nst: job j-1: running']);
    expect(lines[2]).toMatch(/^nst: job j-1: succeeded, .*, 100% \(10\/10\), done,/);
  });

  it('stops the bar at a hand-off (running, queued, running) and starts a new one with the next progress', () => {
    const { watch, lines, events } = onTerminal();
    watch.update(job('running', at(3)));
    watch.update(job('queued', at(3)));
    watch.update(job('running', at(3)));
    watch.update(job('running', at(5)));
    watch.update(job('failed', at(5)));
    watch.stop();
    expect(events).toEqual([
      ...['line', 'bar', '3'],
      ...['3', 'stop', 'line'], // queued: the bar stops, the line says so
      ...['line', 'bar', '3', '5'], // running again: a new bar
      ...['5', 'stop', 'line'], // failed
    ]);
    expect(lines[1]).toContain('queued, scale 1/1 (32x24), iteration 3/10, 30% (3/10), waiting to continue');
    expect(lines[3]).toContain('failed, scale 1/1 (32x24), iteration 5/10, stopped at 50% (5/10)');
  });
});
