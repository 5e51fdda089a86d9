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
): Term {
  const m = grid.height * grid.width;
  const f = g.op('Reshape', [activation, g.int64s([n, m])]);
  const maskValue = mask && g.floats('mask', [1, m], mask);
  const weighted = maskValue ? g.op('Mul', [f, maskValue]) : f;
  const diff = g.op('Sub', [g.op('Gemm', [weighted, weighted], { transB: 1 }), target]);
  const term = g.op('Mul', [g.op('ReduceSumSquare', [diff], { keepdims: 0 }), g.scalar(coefficient)]);
  const gradWeighted = g.op('Gemm', [diff, weighted], { alpha: float(4 * coefficient) });
  const gradF = maskValue ? g.op('Mul', [gradWeighted, maskValue]) : gradWeighted;
  return { term, grad: g.op('Reshape', [gradF, g.int64s([1, n, grid.height, grid.width])]) };
}

interface StyleTermSpec {
  readonly channels: number;
  readonly grid: Grid;
  /** c: the term's factor on sum (G - A)^2. */
  readonly coefficient: number;
  /** The region's mask at this layer's grid (row-major), or none: the whole image unweighted. */
  readonly mask?: Float32Array;
}

/** alpha * 1/2 * sum (F - P)^2; gradient alpha * (F - P). */
export function contentTerm(g: GraphBuilder, activation: Value, target: Value, alpha: number): Term {
  const diff = g.op('Sub', [activation, target]);
  const term = g.op('Mul', [g.op('ReduceSumSquare', [diff], { keepdims: 0 }), g.scalar(alpha / 2)]);
  return { term, grad: g.op('Mul', [diff, g.scalar(alpha)]) };
}

/**
 * weight * (sum dh^2 + sum dw^2) on the NHWC image x, dh = x[i+1,j] - x[i,j], dw = x[i,j+1] - x[i,j].
 * d/dx[i,j] = 2 weight (dh[i-1,j] - dh[i,j] + dw[i,j-1] - dw[i,j]), a difference counting as zero where
 * out of range: the differences padded by one before and after their axis.
 */
export function tvTerm(g: GraphBuilder, x: Value, weight: number, { width, height }: Grid): Term {
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
  const sumSq = g.op('Add', [
    g.op('ReduceSumSquare', [dh], { keepdims: 0 }),
    g.op('ReduceSumSquare', [dw], { keepdims: 0 }),
  ]);
  const spread = g.op('Sum', [
    g.op('Sub', [pad(dh, 1, true), pad(dh, 1, false)]),
    g.op('Sub', [pad(dw, 2, true), pad(dw, 2, false)]),
  ]);
  return { term: g.op('Mul', [sumSq, g.scalar(weight)]), grad: g.op('Mul', [spread, g.scalar(2 * weight)]) };
}
