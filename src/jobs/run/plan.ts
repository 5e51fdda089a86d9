/**
 * One run's plan, made once from the decoded inputs and passed down, so that what routing estimates, what
 * the deadline allows for, what a checkpoint is checked against and what the engine driver runs are the
 * same scales with the same engine and threads.
 */
import { resolveEngineKind } from '../../engine/index.js';
import type { StylizeOptions } from '../../engine/options.js';
import { planScales, type Scale } from '../../engine/schedule.js';
import type { Checkpoint } from '../../engine/stylize.js';
import { defaultThreads } from '../../engine/threads.js';
import type { EngineKind } from '../../engine/types.js';
import { type DecodedInputs, resultSize } from '../../stylize-image.js';
import type { PipelineConfig } from '../config.js';
import { type JobManifest, round } from '../lifecycle/manifest.js';
import { PIPELINE_LIMITS } from '../spec/spec.js';
import {
  batchFit,
  chooseRoute,
  fitOn,
  type JobShape,
  jobShape,
  type Route,
  tilesFit,
  withTileSizeToFit,
} from './routing.js';
import type { WorkerDeps } from './run-context.js';

export interface RunPlan {
  /** The spec's options as this worker runs them (workerOptions). */
  readonly options: StylizeOptions;
  readonly engine: EngineKind;
  readonly threads: number;
  /** The scales the driver runs, coarse to fine; the last is the result's size. */
  readonly scales: readonly Scale[];
  /** The job as the cost and memory models see it. */
  readonly shape: JobShape;
  /** Where a previous run stopped, when its checkpoint matches these scales. */
  readonly resume?: Checkpoint;
  /** Where this run goes, with the estimate for the work left and what job.json records of it. */
  readonly route: Route & {
    readonly availableSeconds?: number;
    readonly record: NonNullable<JobManifest['route']>;
  };
}

/** Where the run is: the worker, and the seconds it has before its deadline margin (none: no deadline). */
export interface RunPlace {
  readonly deps: Pick<WorkerDeps, 'config' | 'worker' | 'gpu' | 'dispatch'>;
  readonly availableSeconds?: number;
}

/**
 * Plans the run. `loadResume` reads the job's checkpoint, if it has one, for these scales (a checkpoint of
 * another plan is not used, and the job starts over).
 */
export async function planRun(
  decoded: DecodedInputs,
  specOptions: StylizeOptions,
  place: RunPlace,
  loadResume: (scales: readonly Scale[]) => Promise<Checkpoint | undefined>,
): Promise<RunPlan> {
  const { config } = place.deps;
  const engine = await resolveEngineKind(specOptions.engine === 'auto' ? config.engine : specOptions.engine);
  const size = resultSize(decoded.content, specOptions);
  const scales = planScales({ ...size, ...specOptions });
  // A job too large to run whole runs as tiles that fit the function's memory; the Batch worker's GPU
  // memory is modelled apart, and there the spec decides.
  const worker = workerOptions(specOptions, config, engine, scales);
  const options =
    place.deps.worker === 'batch'
      ? worker
      : withTileSizeToFit(decoded, worker, engine, size, config.memoryMb);
  const { threads } = options;
  const shape = jobShape(decoded, options, size, scales);
  const resume = await loadResume(scales);
  const route = routeRun({ engine, threads, shape, resume }, place);
  return { options, engine, threads, scales, shape, resume, route };
}

/**
 * The spec's options as this worker runs them: the deployment's engine and threads by default; threads
 * never more than this worker's cores (more only oversubscribes them, and would fool the estimate); and
 * saveEvery raised where it would write more than PIPELINE_LIMITS.maxFrames frames, so the frames that are
 * written still span the whole run.
 */
function workerOptions(
  options: StylizeOptions,
  config: PipelineConfig,
  engine: EngineKind,
  scales: readonly Scale[],
): StylizeOptions & { readonly threads: number } {
  const cores = defaultThreads();
  const total = scales.reduce((sum, scale) => sum + scale.iterations, 0);
  return {
    ...options,
    engine,
    threads: Math.min(options.threads ?? config.threads ?? cores, cores),
    saveEvery:
      options.saveEvery > 0 ? Math.max(options.saveEvery, Math.ceil(total / PIPELINE_LIMITS.maxFrames)) : 0,
  };
}

/**
 * The route for the work left: the cost and memory models for this worker (the function's memory limits a
 * Lambda worker only) and for the Batch GPU path when it is configured.
 */
function routeRun(
  run: { engine: EngineKind; threads: number; shape: JobShape; resume?: Checkpoint },
  { deps, availableSeconds }: RunPlace,
): RunPlan['route'] {
  const { config } = deps;
  const here = fitOn(run.shape, {
    engine: run.engine,
    threads: run.threads,
    gpu: deps.gpu,
    availableSeconds,
    memoryMb: deps.worker === 'lambda' ? config.memoryMb : undefined,
  });
  const batch = deps.dispatch.batch ? batchFit(run.shape, config) : undefined;
  const tiles = deps.dispatch.tiles ? tilesFit(run.shape, { ...run, config }) : undefined;
  const route = chooseRoute({ here, batch, tiles, resume: run.resume });
  const record = {
    worker: deps.worker,
    engine: run.engine,
    estimatedSeconds: round(route.seconds),
    ...(availableSeconds === undefined ? {} : { availableSeconds: round(availableSeconds) }),
  };
  return { availableSeconds, ...route, record };
}
