/**
 * Live progress: while a job runs, its job.json is rewritten with the engine's latest progress, so a user
 * who reads it (`aws s3 cp .../job.json -`, `nst status`) sees how far the job is. The writes never hold up
 * the optimisation and never break it: each is started in the background, at most one is in flight, and a
 * failure is logged and forgotten (a lost lock aborts the run through the lock's own path). close() waits
 * for the write in flight, so the job's next job.json write (succeeded, failed, handed off) is never
 * overtaken by a stale one.
 */
import type { Progress } from '../../engine/stylize.js';
import { type JobProgress, jobProgress } from './manifest.js';

/**
 * The most often a running job's job.json is rewritten with its progress. Each write costs two requests
 * (the lock's fence, then the PUT); every 15 s keeps that to at most 60 writes in Lambda's 15 minutes, while
 * a waiting user still sees the job move.
 */
export const PROGRESS_WRITE_INTERVAL_MS = 15_000;

/** Where progress goes: job.json (fenced by the lock), a clock, and a log for failed writes. */
export interface ProgressSink {
  write(progress: JobProgress): Promise<void>;
  now(): Date;
  warn(message: string, details: Record<string, unknown>): void;
}

export class LiveProgress {
  private latest?: JobProgress;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private inFlight?: Promise<void>;
  private closed = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly intervalMs = PROGRESS_WRITE_INTERVAL_MS,
  ) {}

  /** Takes the latest progress; writes it when none is in flight and the interval has passed (the first at once). */
  update(progress: Progress): void {
    if (this.closed) return;
    const now = this.sink.now();
    this.latest = jobProgress(progress, now);
    if (this.inFlight || now.getTime() - this.lastWriteAt < this.intervalMs) return;
    this.lastWriteAt = now.getTime();
    this.inFlight = this.sink
      .write(this.latest)
      .catch((e: unknown) =>
        this.sink.warn('progress not written to job.json (the run goes on)', {
          error: e instanceof Error ? e.message : String(e),
        }),
      )
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  /** Stops writing and waits for the write in flight; returns the latest progress (written or not). */
  async close(): Promise<JobProgress | undefined> {
    this.closed = true;
    await this.inFlight;
    return this.latest;
  }
}
