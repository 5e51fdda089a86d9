/**
 * The ceilings a whole iteration is compared with, in onnxruntime on the same threads: one large 3x3 conv
 * (512 -> 512 channels at 64x64, block4 at 512 px) and one large MatMul (2048 x 2048, MLAS SGEMM). Neither
 * is a hard limit (on AVX-512 a whole iteration ran at 112% of the conv), so the bench reports efficiency
 * against the larger of the two.
 */
import { Tensor } from 'onnxruntime-node';
import { singleConvGflop } from '../src/engine/flops.js';
import { GraphBuilder } from '../src/engine/onnx/graph-builder.js';
import { createSession } from '../src/engine/onnx/session.js';
import { seededRandom } from '../src/engine/vgg.js';

/** One op in a session of its own, with its input and its FLOP count. */
interface PeakProbe {
  run(): Promise<unknown>;
  readonly gflop: number;
  release(): Promise<void>;
}

const randomTensor = (rand: () => number, shape: number[]) =>
  new Tensor(
    'float32',
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() - 0.5),
    shape,
  );

async function singleConv(threads: number, channels = 512, side = 64): Promise<PeakProbe> {
  const rand = seededRandom(2);
  const g = new GraphBuilder('conv');
  const w = g.floats(
    'w',
    [channels, channels, 3, 3],
    Float32Array.from({ length: channels * channels * 9 }, () => rand() - 0.5),
  );
  const shape = [1, channels, side, side];
  const y = g.op('Conv', [g.input('x', shape), w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.output('y', y, shape);
  const { session } = await createSession(g.encode(), { threads });
  const x = randomTensor(rand, shape);
  return {
    run: () => session.run({ x }),
    gflop: singleConvGflop(side, side, channels, channels),
    release: () => session.release(),
  };
}

async function singleMatMul(threads: number, n = 2048): Promise<PeakProbe> {
  const rand = seededRandom(3);
  const g = new GraphBuilder('matmul');
  const y = g.op('MatMul', [g.input('a', [n, n]), g.input('b', [n, n])]);
  g.output('y', y, [n, n]);
  const { session } = await createSession(g.encode(), { threads });
  const a = randomTensor(rand, [n, n]);
  const b = randomTensor(rand, [n, n]);
  return { run: () => session.run({ a, b }), gflop: (2 * n ** 3) / 1e9, release: () => session.release() };
}

/** Best GFLOP/s of a probe over `runs` runs after a warm-up. */
async function measure(probe: PeakProbe, threads: number, runs: number) {
  await probe.run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await probe.run();
    times.push((performance.now() - t) / 1000);
  }
  await probe.release();
  return { gflops: Number((probe.gflop / Math.min(...times)).toFixed(1)), threads };
}

export const measureConvPeak = async (threads: number, runs = 15) =>
  measure(await singleConv(threads), threads, runs);

export const measureMatMulPeak = async (threads: number, runs = 15) =>
  measure(await singleMatMul(threads), threads, runs);
