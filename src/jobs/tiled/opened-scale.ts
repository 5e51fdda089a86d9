/**
 * A job's tiled scale as a step of its execution opens it: the job's inputs read and decoded, its run
 * planned as its worker planned it (run/plan.ts: the same scales, engine and tile size), and the scale's
 * tiles set up (engine/tiled-scale.ts). Every step opens the scale afresh: steps run in separate Lambda
 * invocations and share only what S3 holds.
 */
import { createTileEngine } from '../../engine/index.js';
import { engineSpec } from '../../engine/scale-spec.js';
import type { Scale } from '../../engine/schedule.js';
import type { StylizeInput } from '../../engine/stylize.js';
import { setUpTiledScale, type TiledScaleSetup } from '../../engine/tiled-scale.js';
import { isTiled, type TileRounds, tileRounds } from '../../engine/tiling.js';
import { NstError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import {
  type DecodedInputs,
  decodeInputs,
  type OutputSettings,
  stylizeInputOf,
} from '../../stylize-image.js';
import { planRun, type RunPlan } from '../run/plan.js';
import type { WorkerDeps } from '../run/run-context.js';
import { outputSettingsFor, readJobInputs } from '../spec/inputs.js';
import type { JobSpec } from '../spec/spec.js';
import { tileObjectKeys } from './tile-objects.js';

export interface OpenedScale {
  readonly decoded: DecodedInputs;
  readonly output: OutputSettings;
  readonly plan: RunPlan;
  /** What stylize() would get: the content at the result's size, the styles as matched. */
  readonly input: StylizeInput;
  readonly scaleIndex: number;
  readonly scale: Scale;
  readonly setup: TiledScaleSetup;
  readonly keys: ReturnType<typeof tileObjectKeys>;
  /** The scale's rounds. */
  readonly rounds: TileRounds;
}

export async function openScale(
  deps: WorkerDeps,
  store: ObjectStore,
  job: { readonly jobId: string; readonly spec: JobSpec },
  scaleIndex: number,
): Promise<OpenedScale> {
  const output = outputSettingsFor(job.spec, deps.config);
  const { images } = await readJobInputs(store, { spec: job.spec }, deps.config);
  const decoded = await decodeInputs(images, output);
  const plan = await planRun(decoded, job.spec.options, { deps }, async () => undefined);
  const { scale, tileSize } = tiledScaleOf(plan, scaleIndex);
  const input = await stylizeInputOf(decoded, plan.options, plan.scales.at(-1)!);
  const whole = engineSpec(input, plan.options, scale, await deps.loadWeights());
  const create = deps.createTileEngine ?? createTileEngine;
  const setup = setUpTiledScale(whole, tileSize, (spec) => create(plan.options.engine, spec));
  return {
    decoded,
    output,
    plan,
    input,
    scaleIndex,
    scale,
    setup,
    keys: tileObjectKeys(job.jobId, scaleIndex),
    rounds: tileRounds(scale.iterations),
  };
}

/** The plan's scale `scaleIndex`, which must be tiled: else the execution and the job disagree (a bug). */
function tiledScaleOf(plan: RunPlan, scaleIndex: number): { scale: Scale; tileSize: number } {
  const scale = plan.scales[scaleIndex];
  const { tileSize } = plan.options;
  if (!scale || tileSize === undefined || !isTiled(scale, tileSize))
    throw new NstError('INTERNAL', `scale ${scaleIndex + 1} of the job's plan is not a tiled scale`);
  return { scale, tileSize };
}
