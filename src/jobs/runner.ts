/**
 * The job runner shared by the Lambda handler, the Batch worker and the local mode. For one job it:
 * takes the job lock (duplicates stop here), resolves the spec and reads the inputs, validates every image,
 * routes with the cost model (here, Batch, or refuse), runs render() with a deadline, and writes the
 * result, then job.json, then the notification, then marks the lock done.
 *
 * Failures end one of three ways:
 * - input and internal errors (bad image, bad spec, missing style, too large, bugs): job.json `failed` with
 *   the code, a failure notification, and a normal return, because retrying cannot help;
 * - transient errors (S3, SNS, network): the lock is released and the error is rethrown so the platform
 *   retries (and, after its retries, puts the event in the dead-letter queue);
 * - the deadline: a checkpoint in S3 and a hand-off to a new invocation or Batch (status `queued`).
 * Nothing but frames and checkpoints is written before the job has succeeded.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { estimateCost } from '../engine/cost-model.js';
import { resolveEngineKind } from '../engine/index.js';
import type { StylizeOptions } from '../engine/options.js';
import { type Checkpoint, type Progress, StylizeAborted } from '../engine/stylize.js';
import { defaultThreads } from '../engine/threads.js';
import type { VggWeights } from '../engine/types.js';
import { type ErrorCode, NstError, toNstError } from '../errors.js';
import { encodeImage } from '../image/encode.js';
import { contentTypeFor } from '../image/formats.js';
import { fitLongestSide } from '../image/resize.js';
import {
  decodeInputs,
  type OutputSettings,
  type RenderContext,
  type RenderInput,
  type RenderResult,
  render,
} from '../render.js';
import type { ObjectStore, StoredObject } from '../storage/object-store.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { PipelineConfig } from './config.js';
import { fetchInputs, outputFormatFor, resolveJob } from './inputs.js';
import { jobIdFor, type UploadVersion } from './job-id.js';
import { classifyKey, outputKeys } from './keys.js';
import { acquireLock, type Claimant, type JobLock } from './lock.js';
import {
  addPhase,
  forStorage,
  isFinished,
  type JobManifest,
  newManifest,
  round,
  transition,
  type Worker,
} from './manifest.js';
import { type Notifier, notificationFor } from './notifier.js';
import { chooseRoute, type Route } from './routing.js';

/** How long a hand-off waits for its claimant before anyone may take the job over. */
const CONTINUATION_HANDOFF_SECONDS = 120;
/** Batch jobs can wait in the queue for GPU capacity. */
const BATCH_HANDOFF_SECONDS = 6 * 3600;

/** Ways to continue a job elsewhere. */
export interface Dispatcher {
  /** Submits the job to AWS Batch (absent: Batch is not configured). */
  readonly batch?: (bucket: string, jobId: string) => Promise<{ jobId: string; jobQueue: string }>;
  /** Starts a new invocation that continues the job (absent: no deadlines here). */
  readonly continuation?: (bucket: string, jobId: string) => Promise<void>;
}

export interface JobMetrics {
  succeeded(run: { seconds: number; iterations: number }): void;
  failed(code: ErrorCode): void;
}

export interface PipelineDeps {
  readonly config: PipelineConfig;
  readonly storeFor: (bucket: string) => ObjectStore;
  readonly loadWeights: () => Promise<VggWeights>;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly metrics?: JobMetrics;
  readonly dispatch: Dispatcher;
  readonly worker: Worker;
  /** Estimate with the GPU (the Batch worker). */
  readonly gpu?: boolean;
  readonly createEngine?: RenderContext['createEngine'];
  /** Told after every iteration (the local mode shows progress). */
  readonly onProgress?: (jobId: string, progress: Progress) => void;
  readonly now?: () => Date;
}

/** One invocation of a handler. */
export interface Invocation {
  /** Who holds locks taken in this invocation (the request id). */
  readonly owner: string;
  /** The Lambda context; absent where there is no deadline (Batch, local). */
  readonly deadline?: { getRemainingTimeInMillis(): number };
}

export interface JobOutcome {
  readonly jobId?: string;
  readonly key?: string;
  readonly status: 'succeeded' | 'failed' | 'queued' | 'skipped';
  readonly detail?: string;
  readonly error?: { readonly code: ErrorCode; readonly message: string };
}

// ---------------------------------------------------------------------------------------------------
// Entry points

/** A job for an uploaded object (a drop-in photo or a jobs/*.json spec). */
export async function runUploadedJob(
  deps: PipelineDeps,
  inv: Invocation,
  upload: UploadVersion,
): Promise<JobOutcome> {
  const trigger = classifyKey(upload.key);
  if (trigger.kind === 'ignored') return { key: upload.key, status: 'skipped', detail: 'not a job' };
  const jobId = jobIdFor(upload);
  return withJob(deps, inv, upload.bucket, jobId, 'event', async (job, existing) => {
    const source = {
      key: upload.key,
      kind: trigger.kind,
      etag: upload.etag,
      ...(upload.versionId ? { versionId: upload.versionId } : {}),
    };
    job.manifest = existing ?? newManifest(jobId, upload.bucket, source, job.now());
    if (job.manifest.spec) return execute(job);
    const resolved = await resolveJob(job.store, trigger, upload);
    job.manifest = { ...job.manifest, spec: resolved.spec };
    return execute(job, resolved.fetched);
  });
}

/** Continues a job from its job.json (and checkpoint): a continuation invocation or the Batch worker. */
export async function continueJob(
  deps: PipelineDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string },
  claimant: 'continuation' | 'batch',
): Promise<JobOutcome> {
  return withJob(deps, inv, target.bucket, target.jobId, claimant, async (job, existing) => {
    if (!existing?.spec) return job.skip(`no job.json with a spec for ${target.jobId}`);
    job.manifest = existing;
    return execute(job);
  });
}

/** Marks a job failed after its Batch job failed (Batch's job state-change event). */
export async function failBatchJob(
  deps: PipelineDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string; batchJobId: string; reason: string },
): Promise<JobOutcome> {
  return withJob(deps, inv, target.bucket, target.jobId, 'batch', async (job, existing) => {
    if (!existing) return job.skip(`no job.json for ${target.jobId}`);
    job.manifest = existing;
    throw new NstError('BATCH_JOB_FAILED', `AWS Batch job ${target.batchJobId} failed: ${target.reason}`);
  });
}

// ---------------------------------------------------------------------------------------------------
// One locked job

type JobBody = (job: JobRun, existing: JobManifest | undefined) => Promise<JobOutcome>;

async function withJob(
  deps: PipelineDeps,
  inv: Invocation,
  bucket: string,
  jobId: string,
  claimant: Claimant,
  body: JobBody,
): Promise<JobOutcome> {
  const store = deps.storeFor(bucket);
  const log = deps.logger.createChild({ persistentKeys: { jobId } });
  const acquired = await acquireLock(store, {
    jobId,
    key: outputKeys(jobId).lock,
    owner: inv.owner,
    claimant,
    leaseSeconds: deps.config.leaseSeconds,
    // A continuation may start before its predecessor handed over; a dead holder's lease ends by then.
    waitSeconds: claimant === 'event' ? 0 : deps.config.leaseSeconds + 5,
    now: deps.now,
  });
  if (!acquired.acquired) {
    log.info('duplicate or concurrent delivery: job not run again', {
      reason: acquired.reason,
      holder: acquired.record.owner,
    });
    return { jobId, status: 'skipped', detail: acquired.reason };
  }
  const job = new JobRun(deps, inv, store, jobId, acquired.lock, log);
  acquired.lock.keepAlive((reason) => job.lost.abort(reason));
  try {
    const existing = (await store.getJson<JobManifest>(outputKeys(jobId).manifest))?.value;
    if (existing && isFinished(existing.status)) {
      // Finished, but the lock was not marked done (a notification or the lock write failed): finish that.
      job.manifest = existing;
      return await job.announce({ jobId, status: 'skipped', detail: 'finished' });
    }
    return await body(job, existing);
  } catch (e) {
    return await job.failed(e);
  } finally {
    acquired.lock.stop();
  }
}

/** The state of one job while this worker holds its lock. */
class JobRun {
  manifest?: JobManifest;
  /** Aborted when the lock is lost (taken over, or not renewable): stop without writing anything. */
  readonly lost = new AbortController();
  readonly keys: ReturnType<typeof outputKeys>;

  constructor(
    readonly deps: PipelineDeps,
    readonly inv: Invocation,
    readonly store: ObjectStore,
    readonly jobId: string,
    readonly lock: JobLock,
    readonly log: Logger,
  ) {
    this.keys = outputKeys(jobId);
  }

  now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async save(): Promise<void> {
    await this.store.putJson(this.keys.manifest, forStorage(this.manifest!));
  }

  /** Records a status change in job.json (and the log). */
  async record(
    status: JobManifest['status'],
    detail: string,
    changes: Partial<JobManifest> = {},
  ): Promise<void> {
    this.manifest = transition(this.manifest!, status, this.now(), detail, changes);
    await this.save();
    if (status === 'failed')
      this.log.warn('job failed', { detail, code: changes.error?.code, error: changes.error?.message });
    else this.log.info(`job ${status}`, { detail });
  }

  async skip(detail: string): Promise<JobOutcome> {
    this.log.warn('job skipped', { detail });
    await this.lock.handOff(undefined, 0);
    return { jobId: this.jobId, status: 'skipped', detail };
  }

  /** Notifies a finished job and marks the lock done: from here on every event is a duplicate. */
  async announce(outcome: JobOutcome): Promise<JobOutcome> {
    await this.deps.notifier.notify(notificationFor(this.manifest!));
    await this.lock.complete();
    return outcome;
  }

  /** Ends the job after an error: permanent errors become a failed job, transient ones are rethrown. */
  async failed(e: unknown): Promise<JobOutcome> {
    const error = toNstError(e);
    if (this.lost.signal.aborted && (this.lost.signal.reason as NstError).kind === 'aborted') {
      this.log.warn('job lock taken over by another worker: stopped', { error: error.message });
      return { jobId: this.jobId, status: 'skipped', detail: 'lock lost' };
    }
    // A job whose result and manifest are written stays finished: an error after that (the lock's final
    // write, say) must not turn it into a failed job or announce it twice.
    if (this.manifest && isFinished(this.manifest.status)) {
      this.log.error('error after the job finished: the manifest stands', {
        code: error.code,
        error: error.message,
      });
      await this.lock.handOff(undefined, 0).catch(() => {});
      throw new NstError('JOB_NOT_CLOSED', `${error.code}: ${error.message}`, { cause: e });
    }
    if (error.kind === 'transient' || error.kind === 'aborted' || !this.manifest) {
      this.log.error('transient failure: the job is released for a retry', {
        code: error.code,
        error: error.message,
      });
      await this.lock.handOff(undefined, 0).catch(() => {});
      throw error;
    }
    try {
      this.deps.metrics?.failed(error.code);
      await this.record('failed', error.code, { error: { code: error.code, message: error.message } });
      return await this.announce({
        jobId: this.jobId,
        status: 'failed',
        error: { code: error.code, message: error.message },
      });
    } catch (writeError) {
      await this.lock.handOff(undefined, 0).catch(() => {});
      throw toNstError(writeError);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Running

const seconds = (since: number) => (performance.now() - since) / 1000;

async function execute(job: JobRun, fetched?: ReadonlyMap<string, StoredObject>): Promise<JobOutcome> {
  const prepared = await prepare(job, fetched);
  const route = await routeJob(job, prepared);
  if (route.target === 'batch') {
    const available = Math.round(route.availableSeconds ?? 0);
    return handOffToBatch(job, `estimated ${Math.round(route.seconds)} s, ${available} s available here`);
  }
  if (route.target === 'too-large') {
    throw new NstError(
      'JOB_TOO_LARGE',
      `the job needs about ${Math.round(route.seconds)} s, but the function has ${Math.round(route.availableSeconds)} s: ` +
        'lower size or iterations, or configure the AWS Batch queue for large jobs',
    );
  }
  const { resume } = prepared;
  const from = resume ? ` from scale ${resume.scaleIndex + 1}, iteration ${resume.iteration}` : '';
  await job.record('running', `${job.deps.worker} run ${job.manifest!.runs + 1}${from}`, {
    runs: job.manifest!.runs + 1,
    route: route.record,
  });
  const run = await stylizeUntilDeadline(job, prepared);
  return run.stopped
    ? handOffAtDeadline(job, run.stopped)
    : succeed(job, prepared.output.format, run.rendered);
}

interface Prepared {
  readonly input: RenderInput;
  readonly output: OutputSettings;
  readonly options: StylizeOptions;
  readonly weights: VggWeights;
  readonly resume?: Checkpoint;
  /** The content's size before resizing. */
  readonly contentSize: { readonly width: number; readonly height: number };
}

/** Reads the inputs, checkpoint and weights, and checks every image (so a bad style fails at once). */
async function prepare(job: JobRun, fetched?: ReadonlyMap<string, StoredObject>): Promise<Prepared> {
  const { deps, store } = job;
  const spec = job.manifest!.spec!;
  const started = performance.now();
  const resume = job.manifest!.checkpoint ? await loadCheckpoint(store, job.jobId) : undefined;
  const input = await fetchInputs(store, spec, fetched);
  const output: OutputSettings = {
    format: outputFormatFor(spec),
    quality: spec.output.quality,
    keepAlpha: spec.output.keepAlpha,
    maxPixels: deps.config.maxPixels,
  };
  const { content } = await decodeInputs(input, output);
  const weights = await deps.loadWeights();
  job.manifest = addPhase(job.manifest!, 'fetch', seconds(started));
  const options = effectiveOptions(spec.options, deps.config);
  return {
    input,
    output,
    options,
    weights,
    resume,
    contentSize: { width: content.width, height: content.height },
  };
}

/** The route for the work left, from the cost model and the time this invocation has. */
async function routeJob(
  job: JobRun,
  p: Prepared,
): Promise<Route & { availableSeconds?: number; record: JobManifest['route'] }> {
  const { deps, inv } = job;
  const size = fitLongestSide(p.contentSize.width, p.contentSize.height, p.options.size);
  const estimate = estimateCost({
    ...size,
    options: p.options,
    engine: await resolveEngineKind(p.options.engine),
    threads: p.options.threads ?? defaultThreads(),
    gpu: deps.gpu,
  });
  const availableSeconds = inv.deadline
    ? inv.deadline.getRemainingTimeInMillis() / 1000 - deps.config.marginSeconds
    : undefined;
  const route = chooseRoute({
    estimate,
    resume: p.resume,
    availableSeconds,
    batchConfigured: Boolean(deps.dispatch.batch),
  });
  const record = {
    worker: deps.worker,
    estimatedSeconds: round(route.seconds),
    ...(availableSeconds === undefined ? {} : { availableSeconds: round(availableSeconds) }),
  };
  return { availableSeconds, ...route, record };
}

type Run =
  | { readonly rendered: RenderResult; readonly stopped?: undefined }
  | { readonly stopped: Checkpoint };

/**
 * render() with the deadline: a timer and a check after every iteration stop it `marginSeconds` before the
 * Lambda's timeout, and it returns where it stopped. Progress frames are uploaded as they come.
 */
async function stylizeUntilDeadline(job: JobRun, p: Prepared): Promise<Run> {
  const { deps } = job;
  const deadline = job.inv.deadline;
  const marginMs = deps.config.marginSeconds * 1000;
  const started = performance.now();
  const stop = new AbortController();
  const timer = deadline
    ? setTimeout(() => stop.abort(), Math.max(0, deadline.getRemainingTimeInMillis() - marginMs))
    : undefined;
  timer?.unref();
  const frames = new FrameWriter(job.store, job.keys, p.output.format);
  let iterations = 0;
  const finish = async () => {
    await frames.flush();
    job.manifest = addPhase(job.manifest!, 'stylize', seconds(started));
  };
  try {
    const rendered = await render(p.input, p.options, p.output, {
      weights: p.weights,
      signal: AbortSignal.any([stop.signal, job.lost.signal]),
      resume: p.resume,
      createEngine: deps.createEngine,
      onProgress: (progress) => {
        iterations++;
        frames.add(progress);
        deps.onProgress?.(job.jobId, progress);
        if (deadline && deadline.getRemainingTimeInMillis() <= marginMs) stop.abort();
      },
    });
    await finish();
    return { rendered };
  } catch (e) {
    if (job.lost.signal.aborted) throw job.lost.signal.reason;
    if (!(e instanceof StylizeAborted && stop.signal.aborted)) throw e;
    await finish();
    job.manifest = { ...job.manifest!, iterations: (job.manifest!.iterations ?? 0) + iterations };
    return { stopped: e.checkpoint };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes the result, then job.json, then notifies. */
async function succeed(
  job: JobRun,
  format: OutputSettings['format'],
  rendered: RenderResult,
): Promise<JobOutcome> {
  const started = performance.now();
  const key = job.keys.result(format);
  await job.store.put(key, rendered.output, { contentType: contentTypeFor(format) });
  const { result } = rendered;
  job.manifest = addPhase(job.manifest!, 'store', seconds(started));
  await job.record('succeeded', key, {
    output: { key, width: result.image.width, height: result.image.height, bytes: rendered.output.length },
    engine: { kind: result.engine, backend: result.backend },
    iterations: (job.manifest!.iterations ?? 0) + result.iterations,
    losses: { initial: result.initial, final: result.final },
  });
  job.deps.metrics?.succeeded({ seconds: result.seconds, iterations: result.iterations });
  return job.announce({ jobId: job.jobId, status: 'succeeded', detail: key });
}

/** The spec's options with the deployment's defaults for the engine and threads. */
function effectiveOptions(options: StylizeOptions, config: PipelineConfig): StylizeOptions {
  return {
    ...options,
    engine: options.engine === 'auto' ? config.engine : options.engine,
    threads: options.threads ?? config.threads,
  };
}

async function handOffToBatch(job: JobRun, why: string): Promise<JobOutcome> {
  // Submit first: if it fails, the error is transient and the event's retry finds the job still ours to give.
  const submitted = await job.deps.dispatch.batch!(job.store.bucket, job.jobId);
  await job.record('queued', `AWS Batch job ${submitted.jobId}: ${why}`, { batch: submitted });
  await job.lock.handOff('batch', BATCH_HANDOFF_SECONDS);
  return { jobId: job.jobId, status: 'queued', detail: `batch ${submitted.jobId}` };
}

async function handOffAtDeadline(job: JobRun, checkpoint: Checkpoint): Promise<JobOutcome> {
  const { deps } = job;
  const manifest = job.manifest!;
  if (!deps.dispatch.batch && manifest.continuations >= deps.config.maxContinuations) {
    throw new NstError(
      'JOB_TOO_LARGE',
      `the job did not finish in ${manifest.continuations + 1} Lambda invocations: lower size or iterations, ` +
        'or configure the AWS Batch queue for large jobs',
    );
  }
  const savedAt = job.now();
  await saveCheckpoint(job.store, job.jobId, checkpoint, savedAt);
  job.manifest = {
    ...manifest,
    checkpoint: {
      scaleIndex: checkpoint.scaleIndex,
      iteration: checkpoint.iteration,
      savedAt: savedAt.toISOString(),
    },
  };
  const at = `scale ${checkpoint.scaleIndex + 1}, iteration ${checkpoint.iteration}`;
  job.log.info('deadline near: checkpointed', {
    scaleIndex: checkpoint.scaleIndex,
    iteration: checkpoint.iteration,
  });
  if (deps.dispatch.batch) return handOffToBatch(job, `deadline at ${at}`);
  if (!deps.dispatch.continuation) throw new NstError('INTERNAL', 'a deadline without a way to continue');
  await job.record('queued', `deadline: continues in a new invocation from ${at}`, {
    continuations: manifest.continuations + 1,
  });
  await deps.dispatch.continuation(job.store.bucket, job.jobId);
  await job.lock.handOff('continuation', CONTINUATION_HANDOFF_SECONDS);
  return { jobId: job.jobId, status: 'queued', detail: `continuation from ${at}` };
}

/** Uploads progress frames (every saveEvery iterations) as they come; flush() waits and reports failures. */
class FrameWriter {
  private readonly pending: Promise<unknown>[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: ReturnType<typeof outputKeys>,
    private readonly format: OutputSettings['format'],
  ) {}

  add(progress: Progress): void {
    if (!progress.image) return;
    const key = this.keys.frame(progress.done, this.format);
    const upload = encodeImage(progress.image, { format: this.format }).then((bytes) =>
      this.store.put(key, bytes, { contentType: contentTypeFor(this.format), temporary: true }),
    );
    upload.catch(() => {}); // reported by flush()
    this.pending.push(upload);
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }
}
