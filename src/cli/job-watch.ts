/**
 * What `nst submit --wait` shows while it waits, from each new version of job.json: on a terminal the
 * progress bar of `nst stylize`; elsewhere (a log, a pipe) a line at each status change and at each new
 * progress (the job writes it at most every PROGRESS_WRITE_INTERVAL_MS, so the log needs no throttle of
 * its own). On a terminal a status change (a failure, a hand-off to Batch: running, queued, running) stops
 * the bar and prints its line; the next progress starts a new bar.
 */
import type { JobManifest } from '../jobs/lifecycle/manifest.js';
import { type ProgressView, progressBar } from './progress-bar.js';
import { jobLine } from './progress-text.js';

export interface JobWatch {
  update(manifest: JobManifest): void;
  stop(): void;
}

export function watchJob(opts: {
  readonly tty: boolean;
  readonly write: (line: string) => void;
  readonly bar?: () => ProgressView;
}): JobWatch {
  let status: string | undefined;
  let progressAt: string | undefined;
  let bar: ProgressView | undefined;
  const line = (m: JobManifest) => opts.write(jobLine(m.jobId, m.status, m.progress));
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(m) {
      const changed = m.status !== status;
      const moved = m.progress !== undefined && m.progress.updatedAt !== progressAt;
      status = m.status;
      progressAt = m.progress?.updatedAt;
      if (!opts.tty) {
        if (changed || moved) line(m);
        return;
      }
      if (changed) {
        // The bar ends where the job is (a succeeded job's progress completes it), then the change is said.
        if (bar && m.progress) bar.update(m.progress);
        stopBar();
        line(m);
      }
      if (m.progress && m.status === 'running' && (moved || !bar)) {
        bar ??= (opts.bar ?? progressBar)();
        bar.update(m.progress);
      }
    },
    stop: stopBar,
  };
}
