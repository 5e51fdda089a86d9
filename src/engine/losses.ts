/**
 * The loss definitions shared by every engine (Gatys et al., as the project's seed defines them):
 *
 *   content  Lc = 1/2 * sum (F - P)^2                      F, P: relu4_2 features of x and of the content
 *   style    Ls = sum_l w_l / (4 N_l^2 M_l^2) * sum (G_l - A_l)^2
 *                G_l = F_l^T F_l, the Gram of x's relu{l}_1 features (N_l channels, M_l = H_l * W_l positions)
 *                A_l = sum_s b_s * (M_l / M_{s,l}) * F_{s,l}^T F_{s,l}: the blend-weighted style Grams, each
 *                rescaled from its own style image's size to x's size (identity when the sizes match)
 *   tv       Ltv = sum (x[i+1,j] - x[i,j])^2 + sum (x[i,j+1] - x[i,j])^2   over all channels, network space
 *   total    L = alpha * Lc + beta * Ls + tvWeight * Ltv
 *
 * Blend weights b_s are normalised to sum to 1.
 */
import type { LossWeights } from './types.js';

/** The default loss weights, the one home of the user options' defaults (options.ts) and the bench's. */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = {
  content: 1,
  style: 1e3,
  tv: 1e-3,
  /** The seed author's per-layer style weights for relu1_1 .. relu5_1. */
  styleLayers: [1, 0.8, 0.5, 0.3, 0.1],
};

/** Blend weights normalised to sum to 1. */
export function normaliseBlend(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0) || weights.some((w) => !(w >= 0) || !Number.isFinite(w))) {
    throw new RangeError(
      `style blend weights must be finite, non-negative and not all zero (got ${weights.join(', ')})`,
    );
  }
  return weights.map((w) => w / sum);
}
