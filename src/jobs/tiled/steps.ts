/**
 * The steps of a job's tiles' execution (execution.ts), each one Lambda invocation:
 * - prepare: the scale's paintings' targets, and every tile's contributions at the scale's start image
 *   (the job's checkpoint), for round one;
 * - tile: one tile's iterations of a round against the round's residual (engine/tiled-scale.ts
 *   optimiseTile), many at once in the execution's Map;
 * - reduce: the tiles' pixels blended into the next image (checkpointed), their contributions summed into
 *   the next residual, the progress written; then another round or the join;
 * - join: the scale's image starts the next scale, or, at the last scale, becomes the job's result;
 * - fail: the job fails with the failed step's error (the execution's Catch).
 * The control steps (all but tile) hold the job's lock, as any worker does (lifecycle/locked-job.ts), and
 * hand it back to the execution when they are done; tile steps write only their own objects.
 */
import { backendFor } from '../../engine/cost-model.js';
import { resampleImage } from '../../engine/resample.js';
import { clampImage } from '../../engine/scale-spec.js';
import type { Progress, StylizeResult } from '../../engine/stylize.js';
import {
  blendTiles,
  evaluateTiles,
  optimiseTile,
  residualOf,
  type Standing,
  standingOf,
  type TileRoundOutput,
  tileName,
  tilesInTurn,
  wholeTerms,
} from '../../engine/tiled-scale.js';
import { cropTile } from '../../engine/tiling.js';
import { fromNetworkInput, toNetworkInput } from '../../engine/vgg.js';
import { ERROR_KINDS, type ErrorCode, NstError } from '../../errors.js';
import { contentTypeFor } from '../../image/formats.js';
import { finishStylized } from '../../stylize-image.js';
import { TILES_HANDOFF_SECONDS } from '../deployment.js';
import type { JobOutcome } from '../lifecycle/locked-job.js';
import { type Invocation, withLockedJob } from '../lifecycle/locked-job.js';
import type { JobManifest } from '../lifecycle/manifest.js';
import { isFinished } from '../lifecycle/manifest.js';
import { loadCheckpoint, saveCheckpoint } from '../run/checkpoint.js';
import type { RunContext, WorkerDeps } from '../run/run-context.js';
import { outputKeys } from '../spec/keys.js';
import type { JobSpec } from '../spec/spec.js';
import { scaleAndRound, type TilesNext, type TilesState } from './execution.js';
import { type OpenedScale, openScale } from './opened-scale.js';
import {
  getArrays,
  getTileInput,
  getTileOutput,
  putArrays,
  putTileInput,
  putTileOutput,
  type ScaleTerms,
} from './tile-objects.js';

/** What a control step decided: the execution's next state, and the job's outcome for the log. */
interface StepEnd {
  readonly state: TilesState;
  readonly outcome: JobOutcome;
}

/** The execution a step belongs to ($$.Execution.Id, or the ended execution's ARN). */
type ExecutionArn = string;

/**
 * Runs a control step under the job's lock. A job that ended meanwhile (its execution's failure event, say)
 * ends the execution; a lock still held by a live worker is transient (the step is retried). A step of an
 * execution other than the one job.json names (an orphan: its hand-off was retried and another started)
 * ends its execution and leaves the job as it is.
 */
async function controlStep(
  deps: WorkerDeps,
  inv: Invocation,
  state: TilesState,
  execution: ExecutionArn,
  body: (run: RunContext, spec: JobSpec) => Promise<StepEnd>,
): Promise<TilesState> {
  const { bucket, jobId } = state;
  let end: StepEnd | undefined;
  const outcome = await withLockedJob(deps, inv, { bucket, jobId }, 'tiles', async (claim, existing) => {
    if (!existing?.spec) return claim.skip(`no job.json with a spec for ${jobId}`);
    const job = claim.open(existing);
    const run = { claim, job, deps };
    if (existing.tiles?.executionArn !== execution) {
      claim.log.warn('a step of another execution than the job names: left alone', { execution });
      end = await handBack(run, { bucket, jobId }, 'done', `tiles: ${execution} is not the job's execution`);
    } else {
      end = await body(run, existing.spec);
    }
    return end.outcome;
  });
  if (outcome.status === 'skipped' && outcome.detail === 'running')
    throw new NstError('ABORTED', `job ${jobId} is held by another worker: the step is tried again`);
  if (end && outcome.status === 'queued') return end.state;
  return { bucket, jobId, next: outcome.status === 'failed' ? 'failed' : 'done' };
}

const handBack = (run: RunContext, state: TilesState, next: TilesNext, detail: string): Promise<StepEnd> =>
  run.job.handBackToTiles(detail, TILES_HANDOFF_SECONDS).then((outcome) => ({
    state: { ...state, next },
    outcome,
  }));

/** The tiles of a scale at its start image (the job's checkpoint): targets, contributions, residual. */
export function prepareScale(
  deps: WorkerDeps,
  inv: Invocation,
  state: TilesState,
  execution: ExecutionArn,
): Promise<TilesState> {
  return controlStep(deps, inv, state, execution, async (run, spec) => {
    const { claim, job } = run;
    const record = job.manifest.checkpoint;
    if (!record) throw new NstError('INTERNAL', `job ${claim.jobId} went to its tiles without a checkpoint`);
    const { checkpoint, scale } = await checkpointedScale(run, spec, record.scaleIndex);
    // Rounds start at multiples of the round length: a checkpoint inside a round (never written by the
    // rounds themselves) restarts that round.
    const round = scale.rounds.of(checkpoint.iteration);
    const tiles = scale.setup.plan.tiles.map((_, t) => t);
    const where = `scale ${scale.scaleIndex + 1} of ${scale.plan.scales.length}, ${tiles.length} tiles`;
    if (job.manifest.status !== 'running') await job.start(`tiles: ${where}`, scale.plan.route.record);
    const stop = () => claim.lost.throwIfAborted();
    const targets = await scale.setup.targets(stop);
    await claim.lock.fence();
    await putArrays(claim.store, scale.keys.targets, targets);
    const x = toNetworkInput(checkpoint.image);
    const inTurn = tilesInTurn(scale.setup, scale.plan.options, targets, stop);
    const states = await evaluateTiles({ plan: scale.setup.plan, tiles: inTurn }, x);
    const standing = standingOf(states);
    await writeRoundInputs(run, scale, { round, x, standing, targets });
    const terms = wholeTerms({ ...scale.setup, options: scale.plan.options }, standing, targets);
    await putTerms(run, scale, { initial: terms, latest: terms });
    const next: TilesNext = checkpoint.iteration < scale.scale.iterations ? 'tiles' : 'join';
    const at = { ...state, scale: scale.scaleIndex, round, tiles };
    return handBack(run, at, next, `tiles: ${where} prepared`);
  });
}

/** One tile's iterations of a round: reads its start and the residual, writes its pixels and contributions. */
export async function runTile(
  deps: WorkerDeps,
  state: TilesState,
  tile: number,
  execution: ExecutionArn,
): Promise<{ tile: number; status: 'done' | 'skipped' }> {
  const { scale: scaleIndex, round } = scaleAndRound(state);
  const store = deps.storeFor(state.bucket);
  const manifest = (await store.getJson<JobManifest>(outputKeys(state.jobId).manifest))?.value;
  if (!manifest?.spec) throw new NstError('INTERNAL', `no job.json with a spec for ${state.jobId}`);
  // A finished job, or one another execution runs now, needs nothing of this tile.
  if (isFinished(manifest.status) || manifest.tiles?.executionArn !== execution)
    return { tile, status: 'skipped' };
  const scale = await openScale(deps, store, { jobId: state.jobId, spec: manifest.spec }, scaleIndex);
  if (tile >= scale.setup.plan.tiles.length)
    throw new NstError('INTERNAL', `tile ${tile} of a ${scale.setup.plan.tiles.length}-tile scale`);
  const residual = await getArrays(store, scale.keys.residual(round));
  const given = await getTileInput(store, scale.keys.input(round, tile), residual.length);
  const engine = await scale.setup.tileEngine(tile, residual);
  try {
    const input = { ...given, residual, iterations: scale.rounds.iterationsOf(round) };
    const name = tileName(scale.setup.plan, tile);
    const out = await optimiseTile(
      engine,
      scale.plan.options,
      scale.setup.shares(tile),
      input,
      undefined,
      name,
    );
    await putTileOutput(store, scale.keys.output(round, tile), out);
  } finally {
    engine.dispose();
  }
  return { tile, status: 'done' };
}

/** The round's tiles blended and summed: the next image (checkpointed), residual and progress. */
export function reduceRound(
  deps: WorkerDeps,
  inv: Invocation,
  state: TilesState,
  execution: ExecutionArn,
): Promise<TilesState> {
  return controlStep(deps, inv, state, execution, async (run, spec) => {
    const { claim, job } = run;
    const { scale: scaleIndex, round } = scaleAndRound(state);
    const scale = await openScale(deps, claim.store, { jobId: claim.jobId, spec }, scaleIndex);
    const { plan: tiles } = scale.setup;
    const targets = await getArrays(claim.store, scale.keys.targets);
    const outputs = await Promise.all(
      tiles.tiles.map((_, t) => getTileOutput(claim.store, scale.keys.output(round, t), targets.length)),
    );
    const x = blendTiles(
      tiles,
      outputs.map((o) => o.pixels),
    );
    const standing = standingOf(outputs.map((o) => o.state));
    const terms = wholeTerms({ ...scale.setup, options: scale.plan.options }, standing, targets);
    const iteration = scale.rounds.doneAfter(round);
    // A retried reduce (its answer lost after it handed back) finds its round recorded: counted once.
    const recorded = job.manifest.checkpoint;
    if (!(recorded?.scaleIndex === scaleIndex && recorded.iteration >= iteration))
      job.stopped(scale.rounds.iterationsOf(round));
    await checkpointScale(run, scaleIndex, iteration, imageOf(x, scale));
    const previous = await getTerms(run, scale);
    await putTerms(run, scale, { initial: previous.initial, latest: terms });
    job.progress(roundProgress(run, scale, round, iteration, terms));
    const more = round + 1 < scale.rounds.count;
    if (more) await writeRoundInputs(run, scale, { round: round + 1, x, standing, targets, outputs });
    const at = { ...state, round: round + 1 };
    return handBack(
      run,
      at,
      more ? 'tiles' : 'join',
      `tiles: round ${round + 1} of ${scale.rounds.count} reduced`,
    );
  });
}

/** The scale's image starts the next scale; the last scale's is the job's result. */
export function joinScale(
  deps: WorkerDeps,
  inv: Invocation,
  state: TilesState,
  execution: ExecutionArn,
): Promise<TilesState> {
  return controlStep(deps, inv, state, execution, async (run, spec) => {
    const s = scaleAndRound(state).scale;
    const { checkpoint, scale } = await checkpointedScale(run, spec, s);
    const { scales } = scale.plan;
    const next = { bucket: state.bucket, jobId: state.jobId, scale: s + 1, round: 0 };
    if (checkpoint.scaleIndex === s + 1 && checkpoint.iteration === 0) {
      // A retried join whose checkpoint landed before its hand-back failed: the scale is joined.
      run.job.checkpointed({ scaleIndex: s + 1, iteration: 0 }, run.claim.now());
      return handBack(run, next, 'prepare', `tiles: scale ${s + 1} of ${scales.length} joined`);
    }
    if (checkpoint.scaleIndex !== s || checkpoint.iteration < scale.scale.iterations)
      throw new NstError('INTERNAL', `join of scale ${s + 1} before its last round`);
    if (s === scales.length - 1)
      return { state: { ...state, next: 'done' }, outcome: await succeed(run, scale, checkpoint.image) };
    const { width, height } = scales[s + 1];
    await checkpointScale(run, s + 1, 0, resampleImage(checkpoint.image, width, height));
    return handBack(run, next, 'prepare', `tiles: scale ${s + 1} of ${scales.length} joined`);
  });
}

/**
 * Ends the job after a step failed for good (the execution's Catch): with the step's code when it is one
 * of ours that ends a job, else TILES_FAILED naming the error.
 */
export function failTiles(
  deps: WorkerDeps,
  inv: Invocation,
  state: TilesState,
  execution: ExecutionArn,
): Promise<TilesState> {
  return failTiledJob(deps, inv, state, execution, errorOfStep(state.error));
}

/** Ends a tiled job with `error`: a failed step, or its execution's end (intake/handler.ts). */
export async function failTiledJob(
  deps: WorkerDeps,
  inv: Invocation,
  target: { readonly bucket: string; readonly jobId: string },
  execution: ExecutionArn,
  error: NstError,
): Promise<TilesState> {
  return controlStep(deps, inv, target, execution, async () => {
    throw error;
  });
}

/** What a Catch recorded, as the error that ends the job. */
export function errorOfStep(error: TilesState['error']): NstError {
  const name = error?.Error ?? 'States.Unknown';
  const message = causeMessage(error?.Cause) ?? 'no cause given';
  const code = name in ERROR_KINDS ? (name as ErrorCode) : undefined;
  if (code && ERROR_KINDS[code] !== 'transient' && ERROR_KINDS[code] !== 'aborted')
    return new NstError(code, message);
  return new NstError('TILES_FAILED', `a step of the job's tiles failed for good (${name}): ${message}`);
}

/** A Lambda error's cause is its JSON ({ errorType, errorMessage, trace }); other causes are text. */
function causeMessage(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause as it is
  }
  return cause;
}

/** Scale `scaleIndex` of the job, opened, and the job's checkpoint (which may name another scale). */
async function checkpointedScale(run: RunContext, spec: JobSpec, scaleIndex: number) {
  const { claim, deps } = run;
  const scale = await openScale(deps, claim.store, { jobId: claim.jobId, spec }, scaleIndex);
  const loaded = await loadCheckpoint(claim.store, claim.jobId, scale.plan.scales);
  if (!loaded.checkpoint) throw new NstError('INTERNAL', `the job's checkpoint: ${loaded.problem ?? 'none'}`);
  return { checkpoint: loaded.checkpoint, scale };
}

/**
 * Round r's inputs: the residual, and each tile's crop of x with its contributions and, after a round (its
 * `outputs`), the scale its optimiser ended with.
 */
async function writeRoundInputs(
  { claim }: RunContext,
  scale: OpenedScale,
  next: {
    readonly round: number;
    readonly x: Float32Array;
    readonly standing: Standing;
    readonly targets: readonly Float32Array[];
    readonly outputs?: readonly TileRoundOutput[];
  },
): Promise<void> {
  const { plan } = scale.setup;
  const { round, x, standing, outputs } = next;
  await claim.lock.fence();
  await putArrays(claim.store, scale.keys.residual(round), residualOf(next.targets, standing.all));
  for (const [t, tile] of plan.tiles.entries()) {
    const input = {
      start: cropTile(x, plan, tile),
      gamma: outputs?.[t].gamma,
      grams: standing.states[t].grams,
    };
    await putTileInput(claim.store, scale.keys.input(round, t), input);
  }
}

/** The scale's image as the checkpoint keeps it (RGB 0..255, unclamped). */
const imageOf = (x: Float32Array, scale: OpenedScale) =>
  fromNetworkInput(x, scale.scale.width, scale.scale.height);

/** A checkpoint at (scale, iteration), noted in job.json: the sweeper resumes a dead execution from it. */
async function checkpointScale(
  { claim, job }: RunContext,
  scaleIndex: number,
  iteration: number,
  image: ReturnType<typeof fromNetworkInput>,
): Promise<void> {
  const savedAt = claim.now();
  await claim.lock.fence();
  await saveCheckpoint(claim.store, claim.jobId, { scaleIndex, iteration, image }, savedAt);
  job.checkpointed({ scaleIndex, iteration }, savedAt);
}

async function getTerms({ claim }: RunContext, scale: OpenedScale): Promise<ScaleTerms> {
  const found = await claim.store.getJson<ScaleTerms>(scale.keys.terms);
  if (!found) throw new NstError('INTERNAL', `${claim.store.uri(scale.keys.terms)} is missing`);
  return found.value;
}

async function putTerms({ claim }: RunContext, scale: OpenedScale, terms: ScaleTerms): Promise<void> {
  await claim.lock.fence();
  await claim.store.putJson(scale.keys.terms, terms, { temporary: true });
}

/** The job's progress after a round, as the engine driver reports a tiled scale's (`tiles 12/48`). */
function roundProgress(
  { job, claim }: RunContext,
  scale: OpenedScale,
  round: number,
  iteration: number,
  terms: Progress['terms'],
): Progress {
  const { scales } = scale.plan;
  const before = scales.slice(0, scale.scaleIndex).reduce((sum, s) => sum + s.iterations, 0);
  const tiles = scale.setup.plan.tiles.length;
  const started = Date.parse(job.manifest.timings.startedAt ?? job.manifest.timings.createdAt);
  return {
    scaleIndex: scale.scaleIndex,
    scaleCount: scales.length,
    width: scale.scale.width,
    height: scale.scale.height,
    iteration,
    scaleIterations: scale.scale.iterations,
    done: before + iteration,
    total: scales.reduce((sum, s) => sum + s.iterations, 0),
    terms,
    elapsedSeconds: (claim.now().getTime() - started) / 1000,
    tiles: { done: (round + 1) * tiles, total: scale.rounds.count * tiles },
  };
}

/** The last scale's image, finished as stylizeImage() finishes one, is the job's result. */
async function succeed(
  run: RunContext,
  scale: OpenedScale,
  image: StylizeResult['image'],
): Promise<JobOutcome> {
  const { claim, job } = run;
  const { initial, latest } = await getTerms(run, scale);
  const { engine } = scale.plan;
  const backend = backendFor(engine);
  const started = Date.parse(job.manifest.timings.startedAt ?? job.manifest.timings.createdAt);
  const seconds = (claim.now().getTime() - started) / 1000;
  const result: StylizeResult = {
    image: clampImage(image),
    engine,
    backend,
    iterations: 0,
    seconds,
    initial,
    final: latest,
    scales: [],
  };
  const { decoded, plan, output, input } = scale;
  const finished = await finishStylized(decoded, plan.options, output, input.content, result);
  return job.succeed({
    key: claim.keys.result(output.format),
    body: finished.output,
    contentType: contentTypeFor(output.format),
    width: image.width,
    height: image.height,
    engine: { kind: engine, backend },
    // The rounds' iterations were counted as they were reduced (job.stopped).
    iterations: 0,
    seconds,
    losses: { initial, final: latest },
  });
}
