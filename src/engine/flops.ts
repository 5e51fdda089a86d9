/**
 * FLOP counts for benchmarks: a 3x3 conv costs 2 * H * W * 9 * Cin * Cout (multiply + add), and its
 * input gradient (a conv with the flipped, transposed kernel) costs the same.
 */
import { convGrids } from './shapes.js';
import { VGG19_LAYERS } from './vgg.js';

/** GFLOP of one 3x3 'same' conv of cin -> cout channels on a width x height grid. */
export function singleConvGflop(width: number, height: number, cin: number, cout: number): number {
  return (2 * width * height * 9 * cin * cout) / 1e9;
}

/**
 * GFLOP of one lossAndGradient at width x height: the forward convs through relu5_1 plus every conv's
 * input gradient (conv1_1's included, since the gradient is taken with respect to the image).
 * Pools, ReLUs, Grams and the elementwise work are not counted.
 */
export function iterationGflop(width: number, height: number): number {
  const grids = convGrids(width, height);
  return VGG19_LAYERS.reduce(
    (sum, l, i) => sum + 2 * singleConvGflop(grids[i].width, grids[i].height, l.inChannels, l.outChannels),
    0,
  );
}
