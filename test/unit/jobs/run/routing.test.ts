/** Routing: here, the tiles' fan-out, Batch, or refuse, from the time and memory estimates of the work left. */
import { describe, expect, it } from 'vitest';
import { estimateCost } from '../../../../src/engine/cost-model.js';
import { estimateMemory } from '../../../../src/engine/memory-model.js';
import { stylizeOptionsSchema } from '../../../../src/engine/options.js';
import {
  chooseRoute,
  ESTIMATE_SAFETY_FACTOR,
  type Fit,
  jobShape,
  MEMORY_MARGIN,
  remainingSeconds,
  TILE_MEMORY_MB,
  type TilesFit,
  tileSizeToFit,
  tilesFit,
  tilesWallSeconds,
} from '../../../../src/jobs/run/routing.js';
import { photoLike } from '../../../helpers/images.js';

describe('routing', () => {
  const estimate = {
    scales: [
      { width: 32, height: 32, iterations: 10, seconds: 10 },
      { width: 64, height: 64, iterations: 10, seconds: 30 },
    ],
  };
  const fitsTime = 40 * ESTIMATE_SAFETY_FACTOR;
  const here = (over: Partial<Fit> = {}): Fit => ({
    estimate,
    peakMb: 1000,
    availableSeconds: fitsTime,
    memoryMb: 1000 / MEMORY_MARGIN,
    ...over,
  });
  const batch = (over: Partial<Fit> = {}): Fit => ({
    estimate: { scales: estimate.scales.map((s) => ({ ...s, seconds: s.seconds / 10 })) },
    peakMb: 2000,
    availableSeconds: 3600,
    memoryMb: 24000,
    ...over,
  });

  it('counts only the work after a checkpoint', () => {
    expect(remainingSeconds(estimate)).toBe(40);
    expect(remainingSeconds(estimate, { scaleIndex: 0, iteration: 5 })).toBe(35);
    expect(remainingSeconds(estimate, { scaleIndex: 1, iteration: 5 })).toBe(15);
  });

  it('runs here when it fits both the time and the memory with their margins', () => {
    expect(chooseRoute({ here: here() })).toEqual({ target: 'here', seconds: 40 });
    expect(chooseRoute({ here: here(), batch: batch() })).toEqual({ target: 'here', seconds: 40 });
    // No deadline and no memory limit (local mode, the Batch worker): always here.
    expect(
      chooseRoute({ here: here({ availableSeconds: undefined, memoryMb: undefined, peakMb: 1e6 }) }),
    ).toEqual({ target: 'here', seconds: 40 });
  });

  it('goes to Batch when the time or the memory does not fit here, and Batch fits', () => {
    expect(chooseRoute({ here: here({ availableSeconds: fitsTime - 1 }), batch: batch() })).toEqual({
      target: 'batch',
      seconds: 4,
    });
    // Time fits, memory does not (the OOM case): Batch, not an OOM-killed Lambda.
    expect(chooseRoute({ here: here({ peakMb: 1001 }), batch: batch() })).toEqual({
      target: 'batch',
      seconds: 4,
    });
  });

  it('refuses when neither fits, naming both estimates and both limits', () => {
    const tooBigGpu = chooseRoute({ here: here({ peakMb: 5000 }), batch: batch({ peakMb: 30000 }) });
    expect(tooBigGpu.target).toBe('too-large');
    const reason = (tooBigGpu as { reason: string }).reason;
    expect(reason).toMatch(/about 40 s and 5000 MB of memory here/);
    expect(reason).toMatch(/1000 MB of its 1250 MB/);
    expect(reason).toMatch(/on AWS Batch about 4 s and 30000 MB of GPU memory/);
    expect(reason).toMatch(/19200 MB of the GPU's 24000 MB/);
    expect(reason).toMatch(/lower size, iterations/);
    // Over the Batch job timeout (with the safety factor): refused, not sent to time out there.
    const tooLong = chooseRoute({
      here: here({ availableSeconds: 10 }),
      batch: batch({ availableSeconds: 4 * ESTIMATE_SAFETY_FACTOR - 1 }),
    });
    expect(tooLong).toMatchObject({ target: 'too-large', seconds: 40 });
    expect((tooLong as { reason: string }).reason).toMatch(/of its 4 s timeout/);
    // No Batch: too slow here is refused at once, and says Batch is not configured.
    const noBatch = chooseRoute({ here: here({ availableSeconds: 10 }) });
    expect(noBatch).toMatchObject({ target: 'too-large', seconds: 40 });
    expect((noBatch as { reason: string }).reason).toMatch(/not configured/);
  });

  it('lets a continuation keep going when only its time does not fit, never when its memory does not', () => {
    const resume = { scaleIndex: 1, iteration: 0 };
    expect(chooseRoute({ here: here({ availableSeconds: 10 }), resume })).toEqual({
      target: 'here',
      seconds: 30,
    });
    expect(chooseRoute({ here: here({ availableSeconds: 10 }), batch: batch(), resume })).toEqual({
      target: 'batch',
      seconds: 3,
    });
    expect(chooseRoute({ here: here({ peakMb: 2000 }), resume }).target).toBe('too-large');
  });

  describe("the issue's OOM cases leave Lambda (real cost and memory models)", () => {
    const lambda = (width: number, height: number, iterations: number, memoryMb: number) => {
      const options = stylizeOptionsSchema.parse({ size: Math.max(width, height), iterations });
      const style = { width: 1024, height: 640 };
      return {
        here: {
          estimate: estimateCost({ width, height, options, engine: 'onnx', threads: 6 }),
          peakMb: estimateMemory({ width, height, styles: [style], options, engine: 'onnx' }).peakMb,
          availableSeconds: 840,
          memoryMb,
        },
        batch: {
          estimate: estimateCost({ width, height, options, engine: 'onnx', threads: 1, gpu: true }),
          peakMb: estimateMemory({ width, height, styles: [style], options, engine: 'onnx', gpu: true })
            .gpuMb!,
          availableSeconds: 14400,
          memoryMb: 23028,
        },
      };
    };

    it('2048x2048 at 10 iterations fits the 15 minutes but not 10240 MB: Batch', () => {
      const input = lambda(2048, 2048, 10, 10240);
      expect(remainingSeconds(input.here.estimate) * ESTIMATE_SAFETY_FACTOR).toBeLessThan(840);
      expect(chooseRoute(input).target).toBe('batch');
    });

    it('1024 px at 30 iterations with -c memory=3008: Batch', () => {
      const input = lambda(1024, 768, 30, 3008);
      expect(remainingSeconds(input.here.estimate) * ESTIMATE_SAFETY_FACTOR).toBeLessThan(840);
      expect(chooseRoute(input).target).toBe('batch');
      // The same job fits the default 10240 MB function.
      expect(chooseRoute(lambda(1024, 768, 30, 10240)).target).toBe('here');
    });

    it('4096 px at 10000 iterations fits nowhere', () => {
      expect(chooseRoute(lambda(4096, 4096, 10_000, 10240)).target).toBe('too-large');
    });
  });

  describe('the tiles fan-out', () => {
    const tiles = (over: Partial<TilesFit> = {}): TilesFit => ({
      estimate,
      peakMb: 1500,
      memoryMb: 10240,
      maxGbSeconds: 1000,
      tileTaskSeconds: 20,
      functionTimeoutSeconds: 900,
      ...over,
    });

    it('takes a job with tiled scales when a tile fits, even one that would fit here', () => {
      // 40 s x 10 GB = 400 GB-s, under the cap of 1000.
      expect(chooseRoute({ here: here(), batch: batch(), tiles: tiles() })).toEqual({
        target: 'tiles',
        seconds: 40,
        gbSeconds: 400,
      });
      // After a checkpoint, only the work left counts.
      expect(
        chooseRoute({ here: here(), tiles: tiles(), resume: { scaleIndex: 1, iteration: 5 } }),
      ).toMatchObject({
        target: 'tiles',
        seconds: 15,
        gbSeconds: 150,
      });
    });

    it('sends a job over the cost cap to Batch when it fits there, else refuses it naming both', () => {
      expect(chooseRoute({ here: here(), batch: batch(), tiles: tiles({ maxGbSeconds: 100 }) })).toEqual({
        target: 'batch',
        seconds: 4,
      });
      const route = chooseRoute({ here: here(), tiles: tiles({ maxGbSeconds: 100 }) });
      expect(route.target).toBe('too-large');
      expect(route.target === 'too-large' && route.reason).toBe(
        "the job's tiles need about 400 GB-s of Lambda time (about $0.01), over the cost cap of 100 GB-s " +
          '($0.00, NST_MAX_JOB_GB_SECONDS): lower size or iterations, or raise the cap',
      );
    });

    it('sends a job one of whose tile tasks would outlast the function to Batch, else refuses it', () => {
      const long = tiles({ tileTaskSeconds: 800 });
      expect(chooseRoute({ here: here(), batch: batch(), tiles: long }).target).toBe('batch');
      const route = chooseRoute({ here: here(), tiles: long });
      expect(route.target).toBe('too-large');
      expect(route.target === 'too-large' && route.reason).toMatch(
        /a round of one of the job's tiles needs about 800 s on the tile function, over \d+ s of its 900 s timeout: lower the tile size/,
      );
    });

    it('goes on as before when a tile does not fit the function', () => {
      expect(chooseRoute({ here: here(), batch: batch(), tiles: tiles({ peakMb: 9000 }) }).target).toBe(
        'here',
      );
    });

    it('is offered only for jobs with tiled scales, and priced from the cost model', () => {
      const options = stylizeOptionsSchema.parse({ size: 4096, tileSize: 1024 });
      const decoded = {
        content: { ...photoLike(64, 48), alpha: undefined },
        styles: [{ image: photoLike(32, 32), weight: 1 }],
      };
      const shape = jobShape(decoded as never, options, { width: 4096, height: 3072 });
      const config = { memoryMb: 10240, maxJobGbSeconds: 200_000, functionTimeoutSeconds: 900 };
      const fit = tilesFit(shape, { engine: 'onnx', threads: 6, config });
      expect(fit).toMatchObject({ memoryMb: 10240, maxGbSeconds: 200_000, functionTimeoutSeconds: 900 });
      // A tile task is one round of the largest tile: far less than a tiled scale, and more than nothing.
      const tiledSeconds = fit!.estimate.scales.filter((s) => s.tiles).map((s) => s.seconds);
      expect(fit!.tileTaskSeconds).toBeGreaterThan(0);
      expect(fit!.tileTaskSeconds).toBeLessThan(Math.min(...tiledSeconds) / 4);
      expect(fit!.peakMb).toBeLessThan(10240 * MEMORY_MARGIN);
      const untiled = jobShape(
        decoded as never,
        { ...options, tileSize: undefined },
        { width: 4096, height: 3072 },
      );
      expect(tilesFit(untiled, { engine: 'onnx', threads: 6, config })).toBeUndefined();
      // Wall time: the untiled scales as they are, each tiled scale spread over its tiles.
      const scales = fit!.estimate.scales;
      const tiled = scales.filter((s) => s.tiles);
      expect(tiled.length).toBeGreaterThan(0);
      const wall = tilesWallSeconds(fit!.estimate, 10);
      const expected = scales.reduce(
        (sum, s) => sum + (s.tiles ? s.seconds / Math.min(s.tiles, 10) : s.seconds),
        0,
      );
      expect(wall).toBeCloseTo(expected, 6);
      expect(wall).toBeLessThan(remainingSeconds(fit!.estimate));
    });
  });

  describe('the default tile size', () => {
    const decoded = {
      content: { ...photoLike(64, 48), alpha: undefined },
      styles: [{ image: photoLike(1024, 800), weight: 1 }],
    };
    const shapeAt = (size: number, tileSize?: number) =>
      jobShape(decoded as never, stylizeOptionsSchema.parse({ size, tileSize }), {
        width: size,
        height: Math.round(size * 0.75),
      });

    it('is none for a job that fits the function whole', () => {
      expect(tileSizeToFit(shapeAt(1024), 'onnx', 10240)).toBeUndefined();
    });

    it('is the largest tile on the lattice with which a 4096 px job fits the tile budget, with the margin', () => {
      const size = tileSizeToFit(shapeAt(4096), 'onnx', 10240)!;
      expect(size % 16).toBe(0);
      const peak = (tile: number) => estimateMemory({ ...shapeAt(4096, tile), engine: 'onnx' }).peakMb;
      // The function has more, but every runner plans tiles in the same budget.
      expect(TILE_MEMORY_MB).toBeLessThan(10240);
      expect(peak(size)).toBeLessThanOrEqual(TILE_MEMORY_MB * MEMORY_MARGIN);
      expect(peak(size + 16)).toBeGreaterThan(TILE_MEMORY_MB * MEMORY_MARGIN);
      // A function with less than the budget gets smaller tiles.
      expect(tileSizeToFit(shapeAt(4096), 'onnx', 3008)!).toBeLessThan(size);
    });
  });
});
