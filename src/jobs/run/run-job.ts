/**
 * One run of a claimed job: read its inputs (once), plan the run (once: plan.ts), then go where the plan
 * routes it (here, Batch, or refuse), stylise until the deadline, and end it through the job's lifecycle:
 * succeeded with the result, or handed off from a checkpoint (hand-off.ts). Nothing but frames and
 * checkpoints is written before the job has succeeded.
 */

import type { Scale } from '../../engine/schedule.js';
import { type Checkpoint, StylizeAborted } from '../../engine/stylize.js';
import { isTiled } from '../../engine/tiling.js';
import type { VggWeights } from '../../engine/types.js';
import { NstError } from '../../errors.js';
import { contentTypeFor } from '../../image/formats.js';
import {
  type DecodedInputs,
  decodeInputs,
  type OutputSettings,
  type StylizedImage,
  stylizeDecodedImage,
} from '../../stylize-image.js';
import type { JobOutcome } from '../lifecycle/locked-job.js';
import { secondsSince } from '../lifecycle/manifest.js';
import { type JobRequest, outputSettingsFor, readJobInputs } from '../spec/inputs.js';
import { loadCheckpoint } from './checkpoint.js';
import { stopBeforeDeadline } from './deadline.js';
import { FrameUploads } from './frame-uploads.js';
import { handOffAtDeadline, handOffToBatch, handOffToTiles } from './hand-off.js';
import { planRun, type RunPlan } from './plan.js';
import type { RunContext } from './run-context.js';
import { capacityHere, tileWorkersFor, withTileWorkers } from './tile-pool.js';

/** Runs the job, from its upload (a new job) or from the spec job.json holds. */
export async function runJob(run: RunContext, request: JobRequest): Promise<JobOutcome> {
  const prepared = await prepareRun(run, request);
  const { plan } = prepared;
  const { route } = plan;
  if (route.target === 'batch') {
    const available = Math.round(route.availableSeconds ?? 0);
    return handOffToBatch(run, `estimated ${Math.round(route.seconds)} s, ${available} s available here`);
  }
  if (route.target === 'too-large') throw new NstError('JOB_TOO_LARGE', route.reason);
  const { resume } = plan;
  const from = resume ? ` from scale ${resume.scaleIndex + 1}, iteration ${resume.iteration}` : '';
  await run.job.start(`${run.deps.worker} run ${run.job.manifest.runs + 1}${from}`, route.record);
  const end = await stylizeUntilDeadline(run, prepared);
  if (!end.stopped) return succeed(run, prepared.output, end.stylized);
  return end.atTiles
    ? handOffToTiles(run, end.stopped, end.iterations)
    : handOffAtDeadline(run, end.stopped, end.iterations);
}

/** Everything a run needs, read, decoded and planned before any work. */
interface PreparedRun {
  readonly decoded: DecodedInputs;
  readonly output: OutputSettings;
  readonly weights: VggWeights;
  readonly plan: RunPlan;
}

/** Reads the inputs, weights and checkpoint, decodes every image (so a bad style fails at once), plans. */
async function prepareRun(run: RunContext, request: JobRequest): Promise<PreparedRun> {
  const { claim, job, deps } = run;
  const started = performance.now();
  const { spec, images } = await readJobInputs(claim.store, request, deps.config, {
    spec: (s) => job.specResolved(s),
    taskToken: (token) => job.waitedOnBy(token),
  });
  const output = outputSettingsFor(spec, deps.config);
  const decoded = await decodeInputs(images, output);
  const weights = await deps.loadWeights();
  const deadline = claim.inv.deadline;
  const availableSeconds = deadline
    ? deadline.getRemainingTimeInMillis() / 1000 - deps.config.marginSeconds
    : undefined;
  const plan = await planRun(decoded, spec.options, { deps, availableSeconds }, (scales) =>
    job.manifest.checkpoint ? resumeFrom(run, scales) : Promise.resolve(undefined),
  );
  job.timed('fetch', secondsSince(started));
  return { decoded, output, weights, plan };
}

/** The job's checkpoint if it matches the run's scales (checkpoint.ts); else the job starts over. */
async function resumeFrom({ claim }: RunContext, scales: RunPlan['scales']): Promise<Checkpoint | undefined> {
  const loaded = await loadCheckpoint(claim.store, claim.jobId, scales);
  if (loaded.checkpoint) return loaded.checkpoint;
  claim.log.warn('checkpoint not used: the job starts over from its first scale', {
    problem: loaded.problem ?? 'no checkpoint.json',
  });
  return undefined;
}

/** The tile workers of this run: none asked for (Lambda, Batch), as asked, or what this machine allows. */
function tileWorkersOf({ deps }: RunContext, plan: RunPlan): number {
  const wanted = deps.tileWorkers;
  if (wanted === undefined) return 1;
  return tileWorkersFor(wanted, plan.shape, plan.engine, capacityHere(plan.threads));
}

/**
 * How a stylising run ended: finished, or stopped after `iterations` iterations, at the deadline or, on
 * the tiles route, at its first tiled scale (`atTiles`).
 */
type RunEnd =
  | { readonly stylized: StylizedImage; readonly stopped?: undefined }
  | { readonly stopped: Checkpoint; readonly iterations: number; readonly atTiles: boolean };

/**
 * stylizeDecodedImage() until the deadline is near (stopBeforeDeadline), returning where it stopped then.
 * Progress frames are uploaded as they come, and job.json carries the progress (the lifecycle's progress).
 * A lost lock stops it too, and ends the job (rethrown).
 */
async function stylizeUntilDeadline(run: RunContext, prepared: PreparedRun): Promise<RunEnd> {
  const { claim, job, deps } = run;
  const { decoded, output, plan } = prepared;
  const started = performance.now();
  const deadline = stopBeforeDeadline(claim.inv.deadline, deps.config.marginSeconds, {
    engine: plan.engine,
    threads: plan.threads,
    gpu: deps.gpu,
    extraRegions: plan.shape.extraRegions,
  });
  // On the tiles route this run does the untiled scales, and the tiles' execution the rest.
  const { tileSize } = plan.options;
  let atTiles = false;
  const stopForTiles = (scale: Scale) =>
    plan.route.target === 'tiles' && tileSize !== undefined && isTiled(scale, tileSize);
  const frames = new FrameUploads(claim.store, claim.keys, output.format, () => claim.lock.fence());
  const finish = async () => {
    await frames.flush();
    job.timed('stylize', secondsSince(started));
  };
  try {
    const pool = { workers: tileWorkersOf(run, plan), threads: plan.threads, weights: prepared.weights };
    const stylized = await withTileWorkers(pool, (tileRunner) =>
      stylizeDecodedImage(decoded, plan.options, output, {
        tileRunner,
        weights: prepared.weights,
        scales: plan.scales,
        signal: AbortSignal.any([deadline.signal, claim.lost]),
        resume: plan.resume,
        beforeScale: (scale) => {
          atTiles = stopForTiles(scale);
          return atTiles || deadline.beforeScale(scale);
        },
        createEngine: deps.createEngine,
        createTileEngine: deps.createTileEngine,
        onProgress: (progress) => {
          frames.add(progress);
          job.progress(progress);
          deps.onProgress?.(claim.jobId, progress);
          deadline.check();
        },
      }),
    );
    await finish();
    return { stylized };
  } catch (e) {
    if (claim.lost.aborted) throw claim.lost.reason;
    if (!(e instanceof StylizeAborted && (atTiles || deadline.signal.aborted))) throw e;
    await finish();
    return { stopped: e.checkpoint, iterations: e.iterationsRun, atTiles };
  } finally {
    deadline.clear();
  }
}

/** The job's `succeed` transition with the stylised result. */
function succeed(run: RunContext, output: OutputSettings, stylized: StylizedImage): Promise<JobOutcome> {
  const { result } = stylized;
  return run.job.succeed({
    key: run.claim.keys.result(output.format),
    body: stylized.output,
    contentType: contentTypeFor(output.format),
    width: result.image.width,
    height: result.image.height,
    engine: { kind: result.engine, backend: result.backend },
    iterations: result.iterations,
    seconds: result.seconds,
    losses: { initial: result.initial, final: result.final },
  });
}
