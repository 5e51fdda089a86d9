/**
 * The ceiling a whole iteration is compared with: one large 3x3 conv (512 -> 512 channels at 64x64, block4 at 512 px)
 * in onnxruntime on the same threads.
 */
import { Tensor } from 'onnxruntime-node';
import { singleConvGflop } from '../src/engine/flops.js';
import { GraphBuilder } from '../src/engine/onnx/graph-builder.js';
import { createSession } from '../src/engine/onnx/session.js';
import { seededRandom } from '../src/engine/vgg.js';

interface SingleConv {
  run(): Promise<unknown>;
  readonly gflop: number;
  release(): Promise<void>;
}

async function singleConv(threads: number, channels = 512, side = 64): Promise<SingleConv> {
  const rand = seededRandom(2);
  const g = new GraphBuilder('conv');
  const w = g.floats(
    'w',
    [channels, channels, 3, 3],
    Float32Array.from({ length: channels * channels * 9 }, () => rand() - 0.5),
  );
  const y = g.op('Conv', [g.input('x', [1, channels, side, side]), w], {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
  });
  g.output('y', y, [1, channels, side, side]);
  const { session } = await createSession(g.encode(), { threads });
  const shape = [1, channels, side, side];
  const x = new Tensor(
    'float32',
    Float32Array.from({ length: channels * side * side }, () => rand()),
    shape,
  );
  return {
    run: () => session.run({ x }),
    gflop: singleConvGflop(side, side, channels, channels),
    release: () => session.release(),
  };
}

/** Median GFLOP/s of the single conv over `runs` runs after a warm-up. */
export async function measureConvPeak(
  threads: number,
  runs = 15,
): Promise<{ gflops: number; threads: number }> {
  const conv = await singleConv(threads);
  await conv.run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await conv.run();
    times.push((performance.now() - t) / 1000);
  }
  await conv.release();
  return { gflops: Number((conv.gflop / Math.min(...times)).toFixed(1)), threads };
}
