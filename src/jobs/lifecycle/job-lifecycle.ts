/**
 * The one writer of a job's job.json (outputs/<jobId>/job.json), through named transitions:
 *
 *   (new) --> queued --start--> running --succeed--> succeeded
 *                ^                 |  \--fail-----> failed          (fail also from queued)
 *                |                 |
 *                +--handOff--------+   (to AWS Batch, to its tiles' execution, or to a continuation at a
 *                                        deadline or by the sweeper)
 *
 * Each transition writes in one fixed order, so no caller can get it wrong:
 * - every transition first settles live progress (the write in flight lands, and none follows);
 * - start: the job's first run is told (`started`) before job.json says `running`, so a failed telling
 *   leaves job.json as it was and the retry tells again;
 * - succeed: the result, then job.json, then the notification, then the lock `done`;
 * - fail: any result object removed, then job.json, then the notification, then the lock `done`;
 * - hand-offs: job.json `queued` and the dispatch (Batch is submitted first, so a failed submission leaves
 *   the job ours to retry), then the lock handed to the claimant.
 * Facts that change nothing by themselves (the resolved spec, phase timings, a checkpoint, a stopped run's
 * iterations) are noted in memory and written with the next transition. Every write is fenced by the lock:
 * a worker that lost it writes nothing.
 */
import type { Progress } from '../../engine/stylize.js';
import type { NstError } from '../../errors.js';
import { CONTINUATION_HANDOFF_SECONDS } from '../deployment.js';
import { type JobNotification, notificationFor } from '../notify/job-notification.js';
import type { JobWaiter } from '../notify/notifier.js';
import type { JobSpec } from '../spec/spec.js';
import type { JobClaim } from './job-claim.js';
import { LiveProgress } from './live-progress.js';
import type { JobOutcome } from './locked-job.js';
import {
  addPhase,
  completed,
  forStorage,
  isFinished,
  type JobManifest,
  type JobProgress,
  type JobStatus,
  secondsSince,
  transition,
} from './manifest.js';

type Phase = keyof JobManifest['timings']['phases'];

/** A succeeded run's result, as the lifecycle stores and records it. */
export interface RunResult {
  readonly key: string;
  readonly body: Buffer;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly engine: NonNullable<JobManifest['engine']>;
  /** This run's iterations (earlier runs' are in job.json) and its seconds stylising. */
  readonly iterations: number;
  readonly seconds: number;
  readonly losses: NonNullable<JobManifest['losses']>;
}

export class JobLifecycle {
  #manifest: JobManifest;
  #live?: LiveProgress;
  /** Set by a hand-off or an end: no progress is written after it. */
  #ended = false;

  constructor(
    private readonly claim: JobClaim,
    manifest: JobManifest,
  ) {
    this.#manifest = manifest;
  }

  /** job.json as this worker holds it: read it freely, change it only through the transitions. */
  get manifest(): JobManifest {
    return this.#manifest;
  }

  // Facts noted in memory, written with the next transition.

  /** The spec resolved from the upload (absent from job.json while the spec itself is unread). */
  specResolved(spec: JobSpec): void {
    this.#manifest = { ...this.#manifest, spec };
  }

  /** A Step Functions task waits on the job (its spec's token). */
  waitedOnBy(taskToken: string): void {
    this.#manifest = { ...this.#manifest, taskToken };
  }

  timed(phase: Phase, seconds: number): void {
    this.#manifest = addPhase(this.#manifest, phase, seconds);
  }

  /** A run that stopped before the end (at a deadline): its iterations count towards the job's. */
  stopped(iterations: number): void {
    this.#manifest = { ...this.#manifest, iterations: (this.#manifest.iterations ?? 0) + iterations };
  }

  /** The checkpoint a stopped run saved, to continue from. */
  checkpointed(checkpoint: { scaleIndex: number; iteration: number }, savedAt: Date): void {
    const { scaleIndex, iteration } = checkpoint;
    this.#manifest = {
      ...this.#manifest,
      checkpoint: { scaleIndex, iteration, savedAt: savedAt.toISOString() },
    };
  }

  // Transitions.

  /** A run starts here: `running`, one more run, and where it was routed; the job's first is told. */
  async start(detail: string, route: NonNullable<JobManifest['route']>): Promise<void> {
    const first = this.#manifest.runs === 0;
    await this.record('running', detail, { runs: this.#manifest.runs + 1, route }, async () => {
      if (!first) return;
      await this.claim.lock.fence();
      await this.claim.deps.notifier.started(this.notification(), this.waiter());
    });
  }

  /**
   * The engine's latest progress: job.json is rewritten with it in the background, at most every
   * progressIntervalMs (live-progress.ts); nothing after the job is handed off or ended.
   */
  progress(progress: Progress): void {
    if (this.#ended) return;
    this.#live ??= new LiveProgress(
      {
        write: (p) => this.saveProgress(p),
        now: () => this.claim.now(),
        warn: (message, details) => this.claim.log.warn(message, details),
      },
      this.claim.deps.progressIntervalMs,
    );
    this.#live.update(progress);
  }

  /** Hands the job to AWS Batch: submitted first, then `queued` with the Batch job, then the lock. */
  async handOffToBatch(
    why: string,
    submit: () => Promise<{ jobId: string; jobQueue: string }>,
    leaseSeconds: number,
  ): Promise<JobOutcome> {
    await this.stopProgress();
    const submitted = await submit();
    await this.record('queued', `AWS Batch job ${submitted.jobId}: ${why}`, { batch: submitted });
    await this.claim.lock.handOff('batch', leaseSeconds);
    return { jobId: this.claim.jobId, status: 'queued', detail: `batch ${submitted.jobId}` };
  }

  /**
   * Hands the job's tiled scales to their Step Functions execution (src/jobs/tiled): started first (a
   * failed start leaves the job ours to retry), then `queued` with the execution, then the lock.
   */
  async handOffToTiles(
    why: string,
    start: () => Promise<{ executionArn: string }>,
    leaseSeconds: number,
  ): Promise<JobOutcome> {
    await this.stopProgress();
    const started = await start();
    await this.record('queued', `tiles: ${why}`, { tiles: started });
    await this.claim.lock.handOff('tiles', leaseSeconds);
    return { jobId: this.claim.jobId, status: 'queued', detail: `tiles ${started.executionArn}` };
  }

  /**
   * A step of the tiles' execution is done with the job: job.json gets the latest progress and the facts
   * noted, then the lock goes back to the execution's next step.
   */
  async handBackToTiles(detail: string, leaseSeconds: number): Promise<JobOutcome> {
    await this.stopProgress();
    await this.save();
    await this.claim.lock.handOff('tiles', leaseSeconds);
    return { jobId: this.claim.jobId, status: 'queued', detail };
  }

  /** Hands the job to a continuation: `queued` with one more continuation, the dispatch, then the lock. */
  async handOffToContinuation(
    why: string,
    dispatch: () => Promise<void>,
    outcome: string,
  ): Promise<JobOutcome> {
    await this.stopProgress();
    await this.record('queued', why, { continuations: this.#manifest.continuations + 1 });
    await dispatch();
    await this.claim.lock.handOff('continuation', CONTINUATION_HANDOFF_SECONDS);
    return { jobId: this.claim.jobId, status: 'queued', detail: outcome };
  }

  /** The result, then job.json `succeeded` (progress complete), then the notification. */
  async succeed(result: RunResult): Promise<JobOutcome> {
    await this.stopProgress();
    const started = performance.now();
    await this.claim.lock.fence();
    await this.claim.store.put(result.key, result.body, { contentType: result.contentType });
    this.timed('store', secondsSince(started));
    const { progress } = this.#manifest;
    await this.record('succeeded', result.key, {
      output: { key: result.key, width: result.width, height: result.height, bytes: result.body.length },
      engine: result.engine,
      iterations: (this.#manifest.iterations ?? 0) + result.iterations,
      losses: result.losses,
      ...(progress ? { progress: completed(progress) } : {}),
    });
    this.claim.deps.metrics?.succeeded({ seconds: result.seconds, iterations: result.iterations });
    return this.announce({ jobId: this.claim.jobId, status: 'succeeded', detail: result.key });
  }

  /** No result object, then job.json `failed` with the error, then the notification. */
  async fail(error: NstError): Promise<JobOutcome> {
    const failure = { code: error.code, message: error.message };
    this.claim.deps.metrics?.failed(error.code);
    await this.stopProgress();
    await this.removeResults();
    await this.record('failed', error.code, { error: failure });
    return this.announce({ jobId: this.claim.jobId, status: 'failed', error: failure });
  }

  /** A job found finished whose lock is not done (its notification or lock write failed): close it. */
  closeFinished(): Promise<JobOutcome> {
    return this.announce({ jobId: this.claim.jobId, status: 'skipped', detail: 'finished' });
  }

  /**
   * Stops live progress: the write in flight lands first, none follows, and the latest progress is kept.
   * Every transition that ends a run calls it; so does the claim before it gives the lock up after an error.
   */
  async stopProgress(): Promise<void> {
    this.#ended = true;
    const latest = await this.#live?.close();
    this.#live = undefined;
    if (latest) this.#manifest = { ...this.#manifest, progress: latest };
  }

  private async saveProgress(progress: JobProgress): Promise<void> {
    this.#manifest = { ...this.#manifest, progress };
    await this.save();
  }

  private notification(): JobNotification {
    return notificationFor(this.#manifest, this.claim.store.keyPrefix);
  }

  private waiter(): JobWaiter {
    return this.#manifest.taskToken ? { taskToken: this.#manifest.taskToken } : {};
  }

  /** A status change in job.json (and the log); `beforeSave` sees the new manifest before it is written. */
  private async record(
    status: JobStatus,
    detail: string,
    changes: Partial<JobManifest> = {},
    beforeSave?: () => Promise<void>,
  ): Promise<void> {
    const before = this.#manifest;
    this.#manifest = transition(before, status, this.claim.now(), detail, changes);
    try {
      await beforeSave?.();
    } catch (e) {
      this.#manifest = before;
      throw e;
    }
    await this.save();
    if (status === 'failed')
      this.claim.log.warn('job failed', { detail, code: changes.error?.code, error: changes.error?.message });
    else this.claim.log.info(`job ${status}`, { detail });
  }

  /**
   * Writes job.json, fenced by the lock (lock.ts): a worker that lost the lock writes nothing. Every write
   * is also the waiting task's heartbeat (the job is alive).
   */
  private async save(): Promise<void> {
    await this.claim.lock.fence();
    await this.claim.store.putJson(this.claim.keys.manifest, forStorage(this.#manifest));
    await this.beat();
  }

  /**
   * A heartbeat that fails is only logged: the job goes on, and the next write beats again. A finished
   * job's task gets its answer next instead.
   */
  private async beat(): Promise<void> {
    if (!this.#manifest.taskToken || isFinished(this.#manifest.status)) return;
    try {
      await this.claim.deps.notifier.running?.(this.waiter());
    } catch (e) {
      this.claim.log.warn("the waiting task's heartbeat failed (the job goes on)", {
        error: (e as Error).message,
      });
    }
  }

  /** Notifies the finished job and marks the lock done: from here on every event is a duplicate. */
  private async announce(outcome: JobOutcome): Promise<JobOutcome> {
    await this.claim.deps.notifier.finished(this.notification(), this.waiter());
    await this.claim.lock.complete();
    return outcome;
  }

  /**
   * A failed job has no result object: one a worker wrote before it died (job.json never written, so the
   * sweep or the dead-letter consumer fails the job) goes first. Fenced like every write.
   */
  private async removeResults(): Promise<void> {
    const results = await this.claim.store.list(this.claim.keys.resultPrefix);
    if (results.length === 0) return;
    await this.claim.lock.fence();
    for (const key of results) await this.claim.store.delete(key);
  }
}
