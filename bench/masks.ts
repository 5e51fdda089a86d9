/**
 * The time overhead of style masks: milliseconds per lossAndGradient on the onnx engine with the same two
 * styles blended (one region, no masks) and under a sky and a ground mask (two regions: one more Gram and
 * its gradient per style layer, and a mask multiply before and after each).
 *
 *   npx tsx bench/masks.ts [--size 256] [--threads 1,2] [--iters 10]
 *
 * Generated weights (the time depends on shapes only). The two variants alternate, so a machine whose load
 * drifts slows both alike; the median of each is printed.
 */
import { Command } from 'commander';
import { DEFAULT_LOSS_WEIGHTS } from '../src/engine/losses.js';
import { createOnnxEngine } from '../src/engine/onnx/engine.js';
import type { EngineSpec, MaskImage, RgbImage, StyleEngine } from '../src/engine/types.js';
import { generateVggWeights, seededRandom, toNetworkInput } from '../src/engine/vgg.js';

const noise = (width: number, height: number, seed: number): RgbImage => {
  const rand = seededRandom(seed);
  return { width, height, data: Float32Array.from({ length: width * height * 3 }, () => rand() * 255) };
};

/** Sky: the top 60%, ground: the bottom 60% (overlapping in the middle fifth). */
const band = (width: number, height: number, from: number, to: number): MaskImage => {
  const data = new Float32Array(width * height);
  for (let y = Math.floor(from * height); y < Math.floor(to * height); y++)
    data.fill(1, y * width, (y + 1) * width);
  return { width, height, data };
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const opts = new Command()
    .option('--size <px>', 'side of the square image', '256')
    .option('--threads <list>', 'thread counts', '1,2')
    .option('--iters <n>', 'timed evaluations per variant', '10')
    .parse()
    .opts<{ size: string; threads: string; iters: string }>();
  const size = Number(opts.size);
  const iters = Number(opts.iters);
  const weights = generateVggWeights(1);
  const content = noise(size, size, 1);
  const styles = [noise(size, size, 2), noise(size, size, 3)];
  for (const threads of opts.threads.split(',').map(Number)) {
    const spec = (masks: boolean): EngineSpec => ({
      weights,
      width: size,
      height: size,
      pooling: 'avg',
      loss: DEFAULT_LOSS_WEIGHTS,
      content,
      styles: styles.map((image, i) => ({
        image,
        weight: 1,
        ...(masks ? { mask: i === 0 ? band(size, size, 0, 0.6) : band(size, size, 0.4, 1) } : {}),
      })),
      threads,
    });
    const engines: [string, StyleEngine][] = [
      ['two styles, no masks', await createOnnxEngine(spec(false))],
      ['two styles, two masks', await createOnnxEngine(spec(true))],
    ];
    const x = toNetworkInput(content);
    const times = engines.map((): number[] => []);
    for (const [, engine] of engines) await engine.lossAndGradient(x); // warm-up
    for (let i = 0; i < iters; i++) {
      for (const [k, [, engine]] of engines.entries()) {
        const t0 = performance.now();
        await engine.lossAndGradient(x);
        times[k].push(performance.now() - t0);
      }
    }
    const [plain, masked] = times.map(median);
    for (const [k, [name]] of engines.entries()) {
      console.log(
        `${size}x${size}, ${threads} thread(s), ${name}: ${median(times[k]).toFixed(0)} ms/iteration`,
      );
    }
    console.log(`${size}x${size}, ${threads} thread(s), masks / no masks: ${(masked / plain).toFixed(3)}x`);
    for (const [, engine] of engines) engine.dispose();
  }
}

await main();
