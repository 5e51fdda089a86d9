/**
 * The tfjs engine's conv layer: its hand-written input gradient (a forward conv with the flipped,
 * transposed kernel) against tfjs's stock one (the backend's Conv2DBackpropInput kernel, which
 * tf.conv2dTranspose runs), on random data with several channel counts and odd sizes.
 */
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTf, type Tf } from '../../../../src/engine/tfjs/backend.js';
import { createConv3x3, flipKernel } from '../../../../src/engine/tfjs/conv.js';
import type { Tensor32 } from '../../../../src/engine/types.js';
import { seededRandom } from '../../../../src/engine/vgg.js';

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await loadTf());
});

const rand = seededRandom(42);
const random = (shape: number[], scale = 1): Tensor32 => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale) };
};

/** max |a - b| / max |b|: a scale-free error for whole tensors. */
function relativeError(a: Tensor, b: Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
}

describe('flipKernel', () => {
  it('computes kernel[2-i, 2-j, c, o] into [i, j, o, c], the same as reverse + transpose', () => {
    const kernel = random([3, 3, 5, 7]);
    const flipped = flipKernel(kernel);
    expect(flipped.shape).toEqual([3, 3, 7, 5]);
    const at = (t: Tensor32, i: number, j: number, a: number, b: number) =>
      t.data[((i * 3 + j) * t.shape[2] + a) * t.shape[3] + b];
    expect(at(flipped, 0, 1, 6, 4)).toBe(at(kernel, 2, 1, 4, 6));
    expect(at(flipped, 2, 0, 3, 2)).toBe(at(kernel, 0, 2, 2, 3));

    const viaTf = tf.tidy(() =>
      tf.transpose(tf.reverse(tf.tensor4d(kernel.data, [3, 3, 5, 7]), [0, 1]), [0, 1, 3, 2]),
    );
    expect(Array.from(viaTf.dataSync())).toEqual(Array.from(flipped.data));
    viaTf.dispose();
  });
});

describe('createConv3x3', () => {
  const cases: Array<[height: number, width: number, inC: number, outC: number]> = [
    [7, 5, 3, 8],
    [9, 11, 5, 16],
    [6, 13, 16, 3],
    [15, 9, 32, 32],
    [1, 4, 4, 6],
  ];

  it.each(cases)(
    '%ix%i, %i->%i channels: forward equals tf.conv2d + bias, input gradient equals the stock one',
    (h, w, inC, outC) => {
      const kernel = random([3, 3, inC, outC]);
      const bias = random([outC]);
      const conv = createConv3x3(tf, kernel, bias);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = tf.tensor4d(random([1, h, w, inC], 10).data, [1, h, w, inC]);
        const dy = tf.tensor4d(random([1, h, w, outC]).data, [1, h, w, outC]);
        const k = tf.tensor4d(kernel.data, [3, 3, inC, outC]);

        const stockForward = tf.add(tf.conv2d(x, k, 1, 'same'), tf.tensor1d(bias.data));
        expect(relativeError(conv.apply(x), stockForward)).toBeLessThan(1e-6);

        const custom = tf.grad((input: Tensor) => conv.apply(input as Tensor4D))(x, dy);
        const stock = tf.conv2dTranspose(dy, k, [1, h, w, inC], 1, 'same');
        expect(custom.shape).toEqual([1, h, w, inC]);
        expect(relativeError(custom, stock)).toBeLessThan(1e-5);
      });
      expect(tf.memory().numTensors).toBe(before);
      conv.dispose();
      expect(tf.memory().numTensors).toBe(before - 3);
    },
  );

  it('rejects kernels that are not 3x3 or a bias of the wrong length', () => {
    expect(() => createConv3x3(tf, random([5, 5, 3, 4]), random([4]))).toThrow(RangeError);
    expect(() => createConv3x3(tf, random([3, 3, 3, 4]), random([3]))).toThrow(RangeError);
  });

  it('at 64x64x128 agrees with the stock gradient, and prints forward vs custom vs stock backward times', () => {
    const [h, w, c] = [64, 64, 128];
    const kernel = random([3, 3, c, c]);
    const conv = createConv3x3(tf, kernel, random([c]));
    const k = tf.tensor4d(kernel.data, [3, 3, c, c]);
    const x = tf.tensor4d(random([1, h, w, c]).data, [1, h, w, c]);
    const dy = tf.tensor4d(random([1, h, w, c]).data, [1, h, w, c]);
    const flipped = tf.tensor4d(flipKernel(kernel).data, [3, 3, c, c]);

    const best = (reps: number, f: () => Tensor) => {
      let ms = Number.POSITIVE_INFINITY;
      for (let r = 0; r <= reps; r++) {
        const t0 = performance.now();
        const out = f();
        out.dataSync();
        if (r > 0) ms = Math.min(ms, performance.now() - t0); // r = 0 warms up (XNNPACK packs the weights)
        out.dispose();
      }
      return ms;
    };
    const forward = best(3, () => conv.apply(x));
    const customBackward = best(3, () => tf.conv2d(dy, flipped, 1, 'same'));
    const stockBackward = best(1, () => tf.conv2dTranspose(dy, k, [1, h, w, c], 1, 'same'));
    const gflop = (2 * h * w * c * c * 9) / 1e9;
    const rate = (ms: number) => `${ms.toFixed(0)} ms (${(gflop / (ms / 1000)).toFixed(1)} GFLOP/s)`;
    console.log(
      `[tfjs conv ${h}x${h}x${c}->${c}] forward ${rate(forward)}, custom backward ${rate(customBackward)}, ` +
        `stock backward ${rate(stockBackward)}: stock/custom = ${(stockBackward / customBackward).toFixed(1)}x`,
    );
    // And at this size too, the two backward passes agree.
    tf.tidy(() => {
      const stock = tf.conv2dTranspose(dy, k, [1, h, w, c], 1, 'same');
      expect(
        relativeError(tf.grad((input: Tensor) => conv.apply(input as Tensor4D))(x, dy), stock),
      ).toBeLessThan(1e-5);
    });
    tf.dispose([k, x, dy, flipped]);
    conv.dispose();
  });
});
