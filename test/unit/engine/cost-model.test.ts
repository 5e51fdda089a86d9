import { describe, expect, it } from 'vitest';
import { estimateCost } from '../../../src/engine/cost-model.js';
import { iterationGflop } from '../../../src/engine/flops.js';
import {
  CLASSIC_SCHEDULE,
  DEFAULT_SCHEDULE,
  type IterationSchedule,
  planScales,
} from '../../../src/engine/schedule.js';

describe('cost model', () => {
  it('counts about 94 GFLOP of convolutions per iteration at 256 px', () => {
    // Forward convs at 256 px: 47 GFLOP; forward + backward about 94.7.
    expect(iterationGflop(256, 256)).toBeCloseTo(94.7, 1);
    // Work grows with pixels.
    expect(iterationGflop(512, 512) / iterationGflop(256, 256)).toBeCloseTo(4, 1);
  });

  it('estimates more time for more pixels, iterations and slower engines, less for more threads', () => {
    const base = {
      width: 512,
      height: 512,
      options: { iterations: 100, minSize: 128, scaleGrowth: Math.SQRT2 },
      engine: 'onnx' as const,
      threads: 2,
    };
    const t = estimateCost(base).seconds;
    expect(estimateCost({ ...base, width: 1024, height: 1024 }).seconds).toBeGreaterThan(3 * t);
    expect(
      estimateCost({ ...base, options: { iterations: 200, minSize: 128, scaleGrowth: Math.SQRT2 } }).seconds,
    ).toBeGreaterThan(1.8 * t);
    expect(estimateCost({ ...base, engine: 'tfjs' }).seconds).toBeGreaterThan(5 * t);
    // The WASM backend runs one thread under Node: more cores do not help it.
    expect(estimateCost({ ...base, engine: 'tfjs', threads: 8 }).seconds).toBe(
      estimateCost({ ...base, engine: 'tfjs' }).seconds,
    );
    expect(estimateCost({ ...base, threads: 6 }).seconds).toBeLessThan(t / 2);
    expect(estimateCost({ ...base, gpu: true }).seconds).toBeLessThan(t / 10);
    const est = estimateCost(base);
    expect(est.scales).toHaveLength(5);
    expect(est.scales.reduce((s, x) => s + x.seconds, 0)).toBeCloseTo(est.seconds, 6);
  });

  it('matches the bench it is calibrated on: the schedules end to end at 512x384 on 2 cores', () => {
    // npm run bench -- --e2e (issue 11), golden_gate x the_scream run alone: wall seconds less about 4 s
    // of process start, weights and decoding, which the model leaves to the caller. Issue 11's default
    // schedule started at 256 px.
    const measured = { classic: 380.3 - 4, issue11: 118.7 - 4 };
    const ISSUE_11_SCHEDULE = { minSize: 256, scaleGrowth: 2, iterations: [60, 100] } as const;
    const estimate = (schedule: { minSize: number; scaleGrowth: number; iterations: IterationSchedule }) =>
      estimateCost({ width: 512, height: 384, options: schedule, engine: 'onnx', threads: 2 }).seconds;
    expect(estimate(CLASSIC_SCHEDULE) / measured.classic).toBeCloseTo(1, 1);
    expect(estimate(ISSUE_11_SCHEDULE) / measured.issue11).toBeCloseTo(1, 1);
    // npm run bench -- --quality (issue 21), golden_gate x starry_night on another machine: today's default
    // (from 128 px) took 141.8 s where issue 11's took 136.0 s in the same run.
    expect(estimate(DEFAULT_SCHEDULE) / estimate(ISSUE_11_SCHEDULE)).toBeCloseTo(
      (141.8 - 4) / (136.0 - 4),
      1,
    );
  });

  it('prices extra style regions (masks) on top of every evaluation', () => {
    const base = { width: 512, height: 384, options: DEFAULT_SCHEDULE, engine: 'onnx' as const, threads: 2 };
    const plain = estimateCost(base).seconds;
    const masked = estimateCost({ ...base, extraRegions: 1 }).seconds;
    expect(masked / plain).toBeGreaterThan(1.1);
    expect(masked / plain).toBeLessThan(1.25);
  });

  it('prices a given scale plan as it prices the plan it would make, and prices the given one', () => {
    const costing = { engine: 'onnx' as const, threads: 2, extraRegions: 1 };
    const size = { width: 512, height: 384 };
    const planned = estimateCost({ ...size, options: DEFAULT_SCHEDULE, ...costing });
    const scales = planScales({ ...size, ...DEFAULT_SCHEDULE });
    expect(estimateCost({ scales, ...costing })).toEqual(planned);
    // A plan of its own (one scale, 50 iterations) is what gets priced.
    const single = estimateCost({ scales: [{ ...size, iterations: 50 }], ...costing });
    expect(single.scales.map(({ width, height, iterations }) => ({ width, height, iterations }))).toEqual([
      { ...size, iterations: 50 },
    ]);
    expect(single.seconds).toBeLessThan(planned.seconds);
  });
});

describe('cost model with tiles', () => {
  const costing = { engine: 'onnx', threads: 2 } as const;
  const scales = [
    { width: 1024, height: 768, iterations: 60 },
    { width: 2048, height: 1536, iterations: 100 },
  ];

  it('prices a scale larger than a tile as its tiles in rounds, and a smaller one whole', () => {
    const tiled = estimateCost({ ...costing, scales, tileSize: 1024 });
    const whole = estimateCost({ ...costing, scales });
    expect(tiled.scales[0]).toEqual(whole.scales[0]);
    expect(tiled.scales[1]).toMatchObject({ tiles: 6, rounds: 5 });
    // The overlaps and each round's engines cost more than the untiled scale would.
    expect(tiled.scales[1].seconds).toBeGreaterThan(whole.scales[1].seconds);
    expect(tiled.scales[1].seconds).toBeLessThan(2 * whole.scales[1].seconds);
  });
});
