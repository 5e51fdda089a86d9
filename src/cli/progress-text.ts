/**
 * The words for a job's progress, shared by `nst status`, `nst submit --wait` and `nst serve`'s log, so the
 * same progress reads the same everywhere. What a progress means depends on the job's status: a running job
 * has time left, a queued one (handed off, or continuing) waits, a failed one stopped where it was.
 */
import type { JobProgress, JobStatus } from '../jobs/lifecycle/manifest.js';

/** How far a job is: percent, iterations done of the total, and the time left (or where it stopped). */
export function progressAmount(p: JobProgress, status: JobStatus): string {
  const amount = `${p.percent}% (${p.done}/${p.total})`;
  if (status === 'failed') return `stopped at ${amount}`;
  if (status === 'succeeded' || p.percent >= 100) return `${amount}, done`;
  if (status === 'queued') return `${amount}, waiting to continue`;
  return `${amount}, ${p.etaSeconds === undefined ? 'no ETA yet' : `ETA ${duration(p.etaSeconds)}`}`;
}

/** Where a run is: scale and its size, then the iteration within it, or at a tiled scale its tiles. */
export function progressWhere(p: JobProgress): string {
  const scale = `scale ${p.scaleIndex + 1}/${p.scaleCount} (${p.width}x${p.height})`;
  if (p.tiles) return `tiles ${p.tiles.done}/${p.tiles.total} at ${scale}`;
  return `${scale}, iteration ${p.iteration}/${p.scaleIterations}`;
}

/** One log line of a job: its status and, once it has one, its progress with the latest total loss. */
export function jobLine(jobId: string, status: JobStatus, p?: JobProgress): string {
  const progress = p
    ? `, ${progressWhere(p)}, ${progressAmount(p, status)}, loss ${lossText(p.loss.total)}`
    : '';
  return `nst: job ${jobId}: ${status}${progress}`;
}

export const lossText = (n: number): string => n.toExponential(3);

/** "8 s", "2 min 5 s", "1 h 3 min", "3 d"; tenths under 10 s. */
export function duration(seconds: number): string {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  if (m < 48 * 60) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return `${Math.round(m / 60 / 24)} d`;
}
