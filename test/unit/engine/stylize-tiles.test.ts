/**
 * The driver with tiles (options.tileSize): a scale larger than the tile size runs as tiles in rounds
 * (tiled-scale.ts), one tile engine at a time, reporting the whole image's progress each round; a scale
 * that fits one tile runs whole; an abort between rounds leaves a checkpoint of the whole image.
 */
import { describe, expect, it } from 'vitest';
import { createEngine, createTileEngine } from '../../../src/engine/index.js';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../../../src/engine/options.js';
import type { Scale } from '../../../src/engine/schedule.js';
import { type Progress, stylize } from '../../../src/engine/stylize.js';
import { type TileRunnerFactory, tilesInTurn } from '../../../src/engine/tiled-scale.js';
import type { EngineChoice, EngineSpec, TileEngineSpec } from '../../../src/engine/types.js';
import { generateVggWeights } from '../../../src/engine/vgg.js';
import { photoLike } from '../../helpers/images.js';
import { abortedAtFirstTile } from '../../helpers/tiled-runs.js';

const weights = generateVggWeights(5);
const content = photoLike(320, 272, 1);
const style = { image: photoLike(96, 96, 7), weight: 1 };
const options: StylizeOptions = { ...DEFAULT_STYLIZE_OPTIONS, size: 320, tileSize: 256, threads: 2 };
/** Rounds of 2 iterations keep the test short; 3 iterations make two rounds. */
const ROUND = 2;
const scales: Scale[] = [
  { width: 160, height: 136, iterations: 3 },
  { width: 320, height: 272, iterations: ROUND + 1 },
];

/** Real engines, recording what was built: whole scales by size, tiles by their window. */
function recordingEngines() {
  const built: string[] = [];
  return {
    built,
    createEngine: async (choice: EngineChoice, spec: EngineSpec) => {
      built.push(`whole ${spec.width}x${spec.height}`);
      return createEngine(choice, spec);
    },
    createTileEngine: async (choice: EngineChoice, spec: TileEngineSpec) => {
      built.push(`tile ${spec.width}x${spec.height}`);
      return createTileEngine(choice, spec);
    },
  };
}

describe('stylize with tiles', () => {
  it('runs a scale larger than a tile as tiles in rounds, and one that fits whole', async () => {
    const engines = recordingEngines();
    const progress: Progress[] = [];
    // Tiles in turn, recording each tile's L-BFGS scale as its round gets it and ends with it.
    const gammas: { given?: number; ended?: number }[] = [];
    const tileRunner: TileRunnerFactory = (setup, opts, targets) => {
      const tileEngine = (t: number, aims: readonly Float32Array[]) =>
        engines.createTileEngine(opts.engine, setup.tileSpec(t, aims));
      const inTurn = tilesInTurn({ ...setup, tileEngine }, opts, targets);
      return {
        evaluate: inTurn.evaluate,
        optimise: async (t, input) => {
          const seen = { given: input().gamma, ended: undefined as number | undefined };
          gammas.push(seen);
          const output = await inTurn.optimise(t, input);
          seen.ended = output.gamma;
          return output;
        },
      };
    };
    const result = await stylize(
      { content, styles: [style] },
      { ...options, saveEvery: 2 },
      {
        weights,
        scales,
        tileRoundIterations: ROUND,
        ...engines,
        tileRunner,
        onProgress: (p) => progress.push(p),
      },
    );
    // The painting at the scale's size (320x320) in 2 x 2 tiles for its Grams, once; then the content's 2 x 2
    // tiles (256 px, overlapping by 128): a first pass for their contributions, then 2 rounds.
    const painting = ['tile 256x256', 'tile 192x256', 'tile 256x192', 'tile 192x192'];
    const tiles = ['tile 256x256', 'tile 192x256', 'tile 256x144', 'tile 192x144'];
    expect(engines.built).toEqual(['whole 160x136', ...painting, ...tiles, ...tiles, ...tiles]);
    // A scale's first round starts each tile's optimiser afresh; the next starts it at the scale it ended with.
    expect(gammas).toHaveLength(8);
    expect(gammas.slice(0, 4).map((g) => g.given)).toEqual([undefined, undefined, undefined, undefined]);
    gammas.slice(0, 4).forEach((first, t) => {
      expect(first.ended).toBeGreaterThan(0);
      expect(gammas[4 + t].given).toBe(first.ended);
    });
    expect(result.image).toMatchObject({ width: 320, height: 272 });
    expect(result.scales.map((s) => s.iterationsRun)).toEqual([3, ROUND + 1]);
    // Progress tile by tile (4 tiles, 2 rounds), each round's last with the round's iterations done.
    const tiled = progress.filter((p) => p.scaleIndex === 1);
    expect(tiled.map((p) => [p.iteration, p.tiles?.done, p.tiles?.total])).toEqual([
      [0, 1, 8],
      [0, 2, 8],
      [0, 3, 8],
      [ROUND, 4, 8],
      [ROUND, 5, 8],
      [ROUND, 6, 8],
      [ROUND, 7, 8],
      [ROUND + 1, 8, 8],
    ]);
    expect(tiled.at(-1)?.done).toBe(3 + ROUND + 1);
    // Frames every 2 iterations: a round that crosses a multiple of 2 brings one (done 3 -> 5, 5 -> 6).
    expect(tiled.map((p) => p.image !== undefined)).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
    // The whole image's loss, assembled from the tiles, went down.
    expect(result.final.total).toBeLessThan(result.initial.total);
    expect(result.final.total).toBeCloseTo(result.final.content + result.final.style + result.final.tv, -2);
  }, 120_000);

  it('stops between tiles with a checkpoint of the whole image at the round under way', async () => {
    // Aborted after the first tile of the first round: the round is lost, the scale's start is kept.
    const context = { weights, scales, tileRoundIterations: ROUND };
    const aborted = await abortedAtFirstTile({ content, styles: [style] }, options, context);
    expect(aborted.checkpoint).toMatchObject({
      scaleIndex: 1,
      iteration: 0,
      image: { width: 320, height: 272 },
    });
    expect(aborted.iterationsRun).toBe(scales[0].iterations);
  }, 120_000);

  it('refuses tiles on the tfjs engine, which optimises whole images only', async () => {
    const run = stylize({ content, styles: [style] }, { ...options, engine: 'tfjs' }, { weights, scales });
    await expect(run).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(/onnx/),
    });
  }, 120_000);
});
