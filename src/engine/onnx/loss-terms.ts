/**
 * The loss terms of ../losses.ts as ONNX subgraphs, each with its gradient in closed form.
 * Every term is reported weighted: the value that goes into the total.
 */

import type { Grid } from '../shapes.js';
import { float, type GraphBuilder, type Value } from './graph-builder.js';

export interface Term {
  /** The weighted term (a scalar). */
  readonly term: Value;
  /** Its gradient with respect to the input it was taken on, same shape. */
  readonly grad: Value;
}

/** A style term and the Gram it takes, G = F' F'^T (a tile's contribution to the whole image's). */
export interface StyleTerm extends Term {
  readonly gram: Value;
}

/**
 * c * sum (G - A)^2 with G = F' F'^T, F' = F o m: F is the [N, M] (channels x positions) view of the NCHW
 * activation (the transpose of losses.ts's F, the same Gram) and m the region's mask at this layer, one value
 * per position (none: F' = F). c is w / (4 N^2 M E) (losses.ts; E = M unmasked). Its gradient with respect
 * to F is 4c (G - A) F' o m, as G and A are symmetric.
 */
export function styleTerm(
  g: GraphBuilder,
  activation: Value,
  target: Value,
  { channels: n, grid, coefficient, mask }: StyleTermSpec,
): StyleTerm {
  const m = grid.height * grid.width;
  const f = g.op('Reshape', [activation, g.int64s([n, m])]);
  const maskValue = mask && g.floats('mask', [1, m], mask);
  const weighted = maskValue ? g.op('Mul', [f, maskValue]) : f;
  const gram = g.op('Gemm', [weighted, weighted], { transB: 1 });
  const diff = g.op('Sub', [gram, target]);
  const term = g.op('Mul', [g.op('ReduceSumSquare', [diff], { keepdims: 0 }), g.scalar(coefficient)]);
  const gradWeighted = g.op('Gemm', [diff, weighted], { alpha: float(4 * coefficient) });
  const gradF = maskValue ? g.op('Mul', [gradWeighted, maskValue]) : gradWeighted;
  return { term, gram, grad: g.op('Reshape', [gradF, g.int64s([1, n, grid.height, grid.width])]) };
}

interface StyleTermSpec {
  readonly channels: number;
  readonly grid: Grid;
  /** c: the term's factor on sum (G - A)^2. */
  readonly coefficient: number;
  /** The region's mask at this layer's grid (row-major), or none: the whole image unweighted. */
  readonly mask?: Float32Array;
}

/**
 * alpha * 1/2 * sum w (F - P)^2; gradient alpha * w (F - P). w weighs each position (a tile's share, one
 * value per position of F's grid); none: 1.
 */
export function contentTerm(
  g: GraphBuilder,
  activation: Value,
  target: Value,
  alpha: number,
  weights?: { readonly grid: Grid; readonly values: Float32Array },
): Term {
  const diff = g.op('Sub', [activation, target]);
  const w =
    weights && g.floats('content_weights', [1, 1, weights.grid.height, weights.grid.width], weights.values);
  const weighted = w ? g.op('Mul', [diff, w]) : diff;
  const sum = w ? g.op('ReduceSum', [g.op('Mul', [diff, weighted])], { keepdims: 0 }) : undefined;
  const term = g.op('Mul', [sum ?? g.op('ReduceSumSquare', [diff], { keepdims: 0 }), g.scalar(alpha / 2)]);
  return { term, grad: g.op('Mul', [weighted, g.scalar(alpha)]) };
}

/**
 * weight * (sum dh^2 + sum dw^2) on the NHWC image x, dh = x[i+1,j] - x[i,j], dw = x[i,j+1] - x[i,j].
 * d/dx[i,j] = 2 weight (dh[i-1,j] - dh[i,j] + dw[i,j-1] - dw[i,j]), a difference counting as zero where
 * out of range: the differences padded by one before and after their axis. With per-pixel weights w (a
 * tile's share), each difference counts w at its first pixel: sum w dh^2, and dh becomes w dh in the
 * gradient.
 */
export function tvTerm(
  g: GraphBuilder,
  x: Value,
  weight: number,
  { width, height }: Grid,
  pixelWeights?: Float32Array,
): Term {
  const diff = (axis: number, size: number) => {
    const slice = (start: number, end: number) =>
      g.op('Slice', [x, g.int64s([start]), g.int64s([end]), g.int64s([axis])]);
    return g.op('Sub', [slice(1, size), slice(0, size - 1)]);
  };
  const pad = (d: Value, axis: number, before: boolean) => {
    const pads = [0, 0, 0, 0, 0, 0, 0, 0];
    pads[before ? axis : axis + 4] = 1;
    return g.op('Pad', [d, g.int64s(pads)]);
  };
  const dh = diff(1, height);
  const dw = diff(2, width);
  const w = pixelWeights && g.floats('tv_weights', [1, height, width, 1], pixelWeights);
  const firstPixels = (axis: number, size: number) =>
    w && g.op('Slice', [w, g.int64s([0]), g.int64s([size - 1]), g.int64s([axis])]);
  const wh = firstPixels(1, height);
  const ww = firstPixels(2, width);
  const weightedDh = wh ? g.op('Mul', [dh, wh]) : dh;
  const weightedDw = ww ? g.op('Mul', [dw, ww]) : dw;
  const sumOfSquares = (d: Value, weighted: Value) =>
    weighted === d
      ? g.op('ReduceSumSquare', [d], { keepdims: 0 })
      : g.op('ReduceSum', [g.op('Mul', [d, weighted])], { keepdims: 0 });
  const sumSq = g.op('Add', [sumOfSquares(dh, weightedDh), sumOfSquares(dw, weightedDw)]);
  const spread = g.op('Sum', [
    g.op('Sub', [pad(weightedDh, 1, true), pad(weightedDh, 1, false)]),
    g.op('Sub', [pad(weightedDw, 2, true), pad(weightedDw, 2, false)]),
  ]);
  return { term: g.op('Mul', [sumSq, g.scalar(weight)]), grad: g.op('Mul', [spread, g.scalar(2 * weight)]) };
}
