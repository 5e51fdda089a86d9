/** Tiles of a scale: where they are, and weights that add up to 1 at every pixel and every layer position. */
import { describe, expect, it } from 'vitest';
import { styleRegions } from '../../../src/engine/masks.js';
import { convGrids } from '../../../src/engine/shapes.js';
import {
  addWeightedTile,
  cropTile,
  MIN_TILE_SIZE,
  planTiles,
  TILE_ALIGN,
  TILE_OVERLAP,
  TILE_ROUND_ITERATIONS,
  type TilePlan,
  tileLoss,
  tileRounds,
  tilesOfScales,
  tileWeights,
} from '../../../src/engine/tiling.js';
import { STYLE_LAYERS, VGG19_LAYERS } from '../../../src/engine/vgg.js';

const SIZES = [
  [1000, 700, 384],
  [3000, 2000, 1024],
  [512, 512, 512],
  [700, 300, 256],
  [257, 1030, 400],
] as const;

/** The tiles' weights summed over the whole image, pixel by pixel. */
function summedWeights(plan: TilePlan): Float32Array {
  const sum = new Float32Array(plan.width * plan.height);
  plan.tiles.forEach((tile, t) => {
    const ones = new Float32Array(tile.width * tile.height).fill(1);
    addWeightedTile(sum, plan, tile, ones, tileWeights(plan, t), 1);
  });
  return sum;
}

describe('tile plans', () => {
  it.each(SIZES)(
    '%ix%i in tiles of %i: aligned, within the size, overlapping, weights adding up to 1',
    (w, h, size) => {
      const plan = planTiles(w, h, size);
      for (const tile of plan.tiles) {
        expect(tile.x % TILE_ALIGN).toBe(0);
        expect(tile.y % TILE_ALIGN).toBe(0);
        expect(tile.width).toBeLessThanOrEqual(size);
        expect(tile.height).toBeLessThanOrEqual(size);
        expect(tile.x + tile.width).toBeLessThanOrEqual(w);
        expect(tile.y + tile.height).toBeLessThanOrEqual(h);
      }
      for (const axis of [plan.columns, plan.rows]) {
        for (let i = 1; i < axis.length; i++) expect(axis[i - 1].end - axis[i].start).toBe(TILE_OVERLAP);
        expect(axis[0].start).toBe(0);
      }
      expect(plan.columns.at(-1)?.end).toBe(w);
      expect(plan.rows.at(-1)?.end).toBe(h);
      const sum = summedWeights(plan);
      let worst = 0;
      for (const v of sum) worst = Math.max(worst, Math.abs(v - 1));
      expect(worst).toBeLessThan(1e-6);
    },
  );

  it('a scale that fits one tile is one tile of weight 1', () => {
    const plan = planTiles(300, 200, 512);
    expect(plan.tiles).toEqual([{ x: 0, y: 0, width: 300, height: 200 }]);
    expect(tileWeights(plan, 0).every((v) => v === 1)).toBe(true);
  });

  it('counts the tiles of a 4096 px scale in 1024 px tiles: 5 x 4', () => {
    const plan = planTiles(4096, 3072, 1024);
    expect([plan.columns.length, plan.rows.length]).toEqual([5, 4]);
  });

  it('lists the tiles of every tiled scale, in its pixels', () => {
    const scales = [
      { width: 300, height: 200 },
      { width: 600, height: 400 },
    ];
    expect(tilesOfScales(scales, undefined)).toEqual([]);
    expect(tilesOfScales(scales, 512)).toEqual([
      { scale: 1, x: 0, y: 0, width: 512, height: 400 },
      { scale: 1, x: 384, y: 0, width: 216, height: 400 },
    ]);
  });

  it('refuses a tile too small to have a centre', () => {
    expect(() => planTiles(1000, 1000, MIN_TILE_SIZE - 1)).toThrow(/at least 256/);
  });

  it('blends cropped tiles back into the image they came from', () => {
    const plan = planTiles(700, 500, 320);
    const image = Float32Array.from({ length: 700 * 500 * 3 }, (_, i) => (i * 7919) % 255);
    const out = new Float32Array(image.length);
    plan.tiles.forEach((tile, t) => {
      addWeightedTile(out, plan, tile, cropTile(image, plan, tile), tileWeights(plan, t));
    });
    let worst = 0;
    for (let i = 0; i < image.length; i++) worst = Math.max(worst, Math.abs(out[i] - image[i]));
    expect(worst).toBeLessThan(1e-3);
  });
});

describe("a tile's share of the loss", () => {
  it("weighs every position of every style layer once over the tiles, and keeps the whole image's sizes", () => {
    const plan = planTiles(640, 480, 320);
    const whole = styleRegions(640, 480, [
      { image: { width: 8, height: 8, data: new Float32Array(192) }, weight: 1 },
    ]);
    const wholeGrids = convGrids(640, 480);
    const index = (name: string) => VGG19_LAYERS.findIndex((l) => l.name === name);
    const sums = STYLE_LAYERS.map((name) => {
      const g = wholeGrids[index(name)];
      return new Float32Array(g.width * g.height);
    });
    plan.tiles.forEach((tile, t) => {
      const loss = tileLoss(plan, t, whole);
      expect(loss.positions).toEqual(
        STYLE_LAYERS.map((name) => wholeGrids[index(name)].width * wholeGrids[index(name)].height),
      );
      expect(loss.regions[0].effective).toEqual(whole[0].effective);
      STYLE_LAYERS.forEach((name, l) => {
        const scale = 640 / wholeGrids[index(name)].width;
        const g = wholeGrids[index(name)];
        const tg = convGrids(tile.width, tile.height)[index(name)];
        const mask = loss.regions[0].masks[l] as Float32Array;
        for (let y = 0; y < tg.height; y++)
          for (let x = 0; x < tg.width; x++)
            sums[l][(tile.y / scale + y) * g.width + tile.x / scale + x] += mask[y * tg.width + x] ** 2;
      });
    });
    let worst = 0;
    for (const sum of sums) for (const v of sum) worst = Math.max(worst, Math.abs(v - 1));
    expect(worst).toBeLessThan(1e-5);
  });
});

describe('tileRounds', () => {
  it('splits a scale into rounds of the round length, the last one shorter', () => {
    const rounds = tileRounds(25, 10);
    expect([rounds.length, rounds.count]).toEqual([10, 3]);
    expect([0, 9, 10, 24].map(rounds.of)).toEqual([0, 0, 1, 2]);
    expect([0, 1, 2].map(rounds.iterationsOf)).toEqual([10, 10, 5]);
    expect([0, 1, 2].map(rounds.doneAfter)).toEqual([10, 20, 25]);
    expect(tileRounds(100).count).toBe(100 / TILE_ROUND_ITERATIONS);
  });
});
