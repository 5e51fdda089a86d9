/**
 * One run of a locked job: read and decode its inputs (once), route with the cost and memory models (here,
 * Batch, or refuse), stylize until the deadline, then write the result, then job.json, then the
 * notification; or, at the deadline, hand the job off from a checkpoint. Nothing but frames and checkpoints
 * is written before the job has succeeded.
 */

import { resolveEngineKind } from '../../engine/index.js';
import { extraStyleRegions } from '../../engine/masks.js';
import type { StylizeOptions } from '../../engine/options.js';
import { planScales } from '../../engine/schedule.js';
import { type Checkpoint, StylizeAborted } from '../../engine/stylize.js';
import { defaultThreads } from '../../engine/threads.js';
import type { VggWeights } from '../../engine/types.js';
import { NstError } from '../../errors.js';
import { contentTypeFor } from '../../image/formats.js';
import type { StoredObject } from '../../storage/object-store.js';
import {
  type DecodedInputs,
  decodeInputs,
  type OutputSettings,
  resultSize,
  type StylizedImage,
  stylizeDecodedImage,
} from '../../stylize-image.js';
import type { PipelineConfig } from '../config.js';
import { LiveProgress } from '../lifecycle/live-progress.js';
import type { JobOutcome, JobRun } from '../lifecycle/locked-job.js';
import { addPhase, completed, type JobManifest, round } from '../lifecycle/manifest.js';
import { fetchInputs, outputFormatFor } from '../spec/inputs.js';
import { PIPELINE_LIMITS } from '../spec/spec.js';
import { loadCheckpoint } from './checkpoint.js';
import { stopBeforeDeadline } from './deadline.js';
import { FrameUploads } from './frame-uploads.js';
import { handOffAtDeadline, handOffToBatch } from './hand-off.js';
import { batchFit, chooseRoute, fitOn, jobShape, type Route } from './routing.js';

const seconds = (since: number) => (performance.now() - since) / 1000;

/** Runs the job (its manifest has a spec), given objects already read while resolving it. */
export async function stylizeJob(
  job: JobRun,
  fetched?: ReadonlyMap<string, StoredObject>,
): Promise<JobOutcome> {
  const inputs = await readJobInputs(job, fetched);
  const route = await routeJob(job, inputs);
  if (route.target === 'batch') {
    const available = Math.round(route.availableSeconds ?? 0);
    return handOffToBatch(job, `estimated ${Math.round(route.seconds)} s, ${available} s available here`);
  }
  if (route.target === 'too-large') {
    throw new NstError('JOB_TOO_LARGE', route.reason);
  }
  const { resume } = inputs;
  const from = resume ? ` from scale ${resume.scaleIndex + 1}, iteration ${resume.iteration}` : '';
  await job.record('running', `${job.deps.worker} run ${job.manifest!.runs + 1}${from}`, {
    runs: job.manifest!.runs + 1,
    route: route.record,
  });
  const run = await stylizeUntilDeadline(job, inputs);
  return run.stopped ? handOffAtDeadline(job, run.stopped) : succeed(job, inputs.output, run.stylized);
}

/** Everything a run needs, read and checked before any work. */
interface JobInputs {
  readonly decoded: DecodedInputs;
  readonly output: OutputSettings;
  readonly options: StylizeOptions;
  readonly weights: VggWeights;
  readonly resume?: Checkpoint;
}

/** Reads the inputs, checkpoint and weights, and decodes every image (so a bad style fails at once). */
async function readJobInputs(job: JobRun, fetched?: ReadonlyMap<string, StoredObject>): Promise<JobInputs> {
  const { deps, store } = job;
  const spec = job.manifest!.spec!;
  const started = performance.now();
  const input = await fetchInputs(store, spec, { fetched, limits: deps.config });
  const output: OutputSettings = {
    format: outputFormatFor(spec),
    quality: spec.output.quality,
    keepAlpha: spec.output.keepAlpha,
    maxPixels: deps.config.maxPixels,
  };
  const decoded = await decodeInputs(input, output);
  const weights = await deps.loadWeights();
  const options = effectiveOptions(spec.options, deps.config, resultSize(decoded.content, spec.options));
  const resume = job.manifest!.checkpoint ? await resumeFrom(job, decoded, options) : undefined;
  job.manifest = addPhase(job.manifest!, 'fetch', seconds(started));
  return { decoded, output, options, weights, resume };
}

/** The job's checkpoint if it matches the job's scale plan (checkpoint.ts); else the job starts over. */
async function resumeFrom(
  job: JobRun,
  decoded: DecodedInputs,
  options: StylizeOptions,
): Promise<Checkpoint | undefined> {
  const plan = planScales({ ...resultSize(decoded.content, options), ...options });
  const loaded = await loadCheckpoint(job.store, job.jobId, plan);
  if (loaded.checkpoint) return loaded.checkpoint;
  job.log.warn('checkpoint not used: the job starts over from its first scale', {
    problem: loaded.problem ?? 'no checkpoint.json',
  });
  return undefined;
}

/**
 * The spec's options as this worker runs them: the deployment's engine and threads by default; threads
 * never more than this worker's cores (more only oversubscribes them, and would fool the estimate); and
 * saveEvery raised where it would write more than PIPELINE_LIMITS.maxFrames frames, so the frames that are
 * written still span the whole run.
 */
function effectiveOptions(
  options: StylizeOptions,
  config: PipelineConfig,
  size: { width: number; height: number },
): StylizeOptions {
  const cores = defaultThreads();
  const total = planScales({ ...size, ...options }).reduce((sum, scale) => sum + scale.iterations, 0);
  return {
    ...options,
    engine: options.engine === 'auto' ? config.engine : options.engine,
    threads: Math.min(options.threads ?? config.threads ?? cores, cores),
    saveEvery:
      options.saveEvery > 0 ? Math.max(options.saveEvery, Math.ceil(total / PIPELINE_LIMITS.maxFrames)) : 0,
  };
}

/**
 * The route for the work left: the cost and memory models for this worker (the function's memory limits a
 * Lambda worker only) and for the Batch GPU path when it is configured.
 */
async function routeJob(
  job: JobRun,
  inputs: JobInputs,
): Promise<Route & { availableSeconds?: number; record: JobManifest['route'] }> {
  const { deps, inv } = job;
  const { config } = deps;
  const { options } = inputs;
  const shape = jobShape(inputs.decoded, options);
  const availableSeconds = inv.deadline
    ? inv.deadline.getRemainingTimeInMillis() / 1000 - config.marginSeconds
    : undefined;
  const engine = await resolveEngineKind(options.engine);
  const here = fitOn(shape, {
    engine,
    threads: options.threads ?? defaultThreads(),
    gpu: deps.gpu,
    availableSeconds,
    memoryMb: deps.worker === 'lambda' ? config.memoryMb : undefined,
  });
  const batch = deps.dispatch.batch ? batchFit(shape, config) : undefined;
  const route = chooseRoute({ here, batch, resume: inputs.resume });
  const record = {
    worker: deps.worker,
    engine,
    estimatedSeconds: round(route.seconds),
    ...(availableSeconds === undefined ? {} : { availableSeconds: round(availableSeconds) }),
  };
  return { availableSeconds, ...route, record };
}

type Run =
  | { readonly stylized: StylizedImage; readonly stopped?: undefined }
  | { readonly stopped: Checkpoint };

/**
 * stylizeDecodedImage() until the deadline is near (stopBeforeDeadline), returning where it stopped then.
 * Progress frames are uploaded as they come, and job.json carries the progress (job-progress.ts); however
 * the run ends, the manifest keeps its last progress. A lost lock stops it too, and ends the job (rethrown).
 */
async function stylizeUntilDeadline(job: JobRun, inputs: JobInputs): Promise<Run> {
  const { deps } = job;
  const started = performance.now();
  const deadline = stopBeforeDeadline(job.inv.deadline, deps.config.marginSeconds, {
    engine: await resolveEngineKind(inputs.options.engine),
    threads: inputs.options.threads ?? defaultThreads(),
    gpu: deps.gpu,
    extraRegions: extraStyleRegions(inputs.decoded.styles),
  });
  const frames = new FrameUploads(job.store, job.keys, inputs.output.format, () => job.lock.fence());
  const live = liveProgress(job);
  let iterations = 0;
  const finish = async () => {
    await frames.flush();
    job.manifest = addPhase(job.manifest!, 'stylize', seconds(started));
  };
  try {
    const stylized = await stylizeDecodedImage(inputs.decoded, inputs.options, inputs.output, {
      weights: inputs.weights,
      signal: AbortSignal.any([deadline.signal, job.lost.signal]),
      resume: inputs.resume,
      beforeScale: (scale) => deadline.beforeScale(scale),
      createEngine: deps.createEngine,
      onProgress: (progress) => {
        iterations++;
        frames.add(progress);
        live.update(progress);
        deps.onProgress?.(job.jobId, progress);
        deadline.check();
      },
    });
    await finish();
    return { stylized };
  } catch (e) {
    if (job.lost.signal.aborted) throw job.lost.signal.reason;
    if (!(e instanceof StylizeAborted && deadline.signal.aborted)) throw e;
    await finish();
    job.manifest = { ...job.manifest!, iterations: (job.manifest!.iterations ?? 0) + iterations };
    return { stopped: e.checkpoint };
  } finally {
    deadline.clear();
    // Before any later job.json write: a progress write in flight lands first, never after it.
    const progress = await live.close();
    if (progress) job.manifest = { ...job.manifest!, progress };
  }
}

/** Progress into job.json: the manifest with its progress, saved under the lock. */
function liveProgress(job: JobRun): LiveProgress {
  return new LiveProgress(
    {
      write: async (progress) => {
        job.manifest = { ...job.manifest!, progress };
        await job.save();
      },
      now: () => job.now(),
      warn: (message, details) => job.log.warn(message, details),
    },
    job.deps.progressIntervalMs,
  );
}

/** Writes the result, then job.json, then notifies. */
async function succeed(job: JobRun, output: OutputSettings, stylized: StylizedImage): Promise<JobOutcome> {
  const started = performance.now();
  const key = job.keys.result(output.format);
  await job.lock.fence(); // a worker that lost its lease writes no result (lock.ts)
  await job.store.put(key, stylized.output, { contentType: contentTypeFor(output.format) });
  const { result } = stylized;
  job.manifest = addPhase(job.manifest!, 'store', seconds(started));
  await job.record('succeeded', key, {
    output: { key, width: result.image.width, height: result.image.height, bytes: stylized.output.length },
    engine: { kind: result.engine, backend: result.backend },
    iterations: (job.manifest!.iterations ?? 0) + result.iterations,
    losses: { initial: result.initial, final: result.final },
    ...(job.manifest!.progress ? { progress: completed(job.manifest!.progress) } : {}),
  });
  job.deps.metrics?.succeeded({ seconds: result.seconds, iterations: result.iterations });
  return job.announce({ jobId: job.jobId, status: 'succeeded', detail: key });
}
