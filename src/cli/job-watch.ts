/**
 * What `nst submit --wait` shows while it waits, from each new version of job.json: on a terminal the
 * progress bar of `nst stylize`; elsewhere (a log, a pipe) a line at each status change and, while the
 * job runs, at most one progress line per PROGRESS_WRITE_INTERVAL_MS (job.json changes no faster).
 */
import { PROGRESS_WRITE_INTERVAL_MS } from '../jobs/job-progress.js';
import type { JobManifest } from '../jobs/manifest.js';
import { type ProgressView, progressBar } from './progress-bar.js';
import { progressText } from './status.js';

export interface JobWatch {
  update(manifest: JobManifest): void;
  stop(): void;
}

export function watchJob(opts: {
  readonly tty: boolean;
  readonly write: (line: string) => void;
  readonly bar?: () => ProgressView;
  readonly now?: () => number;
}): JobWatch {
  const now = opts.now ?? Date.now;
  let status: string | undefined;
  let lineAt = Number.NEGATIVE_INFINITY;
  let bar: ProgressView | undefined;
  const line = (m: JobManifest) =>
    opts.write(`nst: job ${m.jobId}: ${m.status}${m.progress ? `, ${progressText(m.progress)}` : ''}`);
  return {
    update(m) {
      const changed = m.status !== status;
      status = m.status;
      if (opts.tty) {
        if (m.progress && (m.status === 'running' || bar)) {
          bar ??= (opts.bar ?? progressBar)();
          bar.update(m.progress);
        } else if (changed && !bar) line(m);
        return;
      }
      if (changed || (m.progress && now() - lineAt >= PROGRESS_WRITE_INTERVAL_MS)) {
        lineAt = now();
        line(m);
      }
    },
    stop: () => bar?.stop(),
  };
}
