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
 *
 * Spatial control (guided Gram matrices, Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
 * Transfer"; masks.ts). With no mask on any style, Ls is exactly the one above. Otherwise:
 *
 *   regions  the styles are grouped: those without a mask form one region (the whole image, mask 1), those
 *            whose masks are equal form one; b_s is normalised within each region r
 *   m_r      r's mask at x's size, 0..1 (white = 1); where sum_r m_r(p) > 1, each m_r(p) is divided by that sum
 *   m_{r,l}  m_r at layer l's grid: 2x2 stride-2 average pooling (flooring odd sizes) for each VGG pooling
 *            before layer l
 *   E_{r,l}  = sum_p m_{r,l}(p)^2, the region's effective number of positions (M_l for the whole image)
 *   G_{r,l}  = (m_{r,l} o F_l)^T (m_{r,l} o F_l), the Gram of x's features weighted per position by the mask
 *   A_{r,l}  = sum_{s in r} b_s * (E_{r,l} / M_{s,l}) * F_{s,l}^T F_{s,l}: the whole style images' Grams,
 *            rescaled to the region's effective size (the style images themselves are not masked)
 *   Ls       = sum_l sum_r w_l / (4 N_l^2 M_l E_{r,l}) * sum (G_{r,l} - A_{r,l})^2   (a term is 0 where E_{r,l} = 0)
 *
 * A mask of ones is the unmasked loss (E = M_l, G_r = G). Dividing by M_l E_{r,l} rather than M_l^2 keeps a
 * covered pixel's gradient at the scale of an unmasked run's, whatever the region's size (G - A grows like
 * E); a region's term is then its share E/M of a whole-image style loss. A pixel no region covers (every
 * mask 0 there) gets only the content and TV losses.
 */
import type { LossWeights } from './types.js';

/**
 * The default loss weights, the one home of the user options' defaults (options.ts) and the bench's. beta is
 * the weight at the default style strength (style-strength.ts). It was 1e3 until issue 21: a result a user
 * took for a filtered photo, 3.8x the anchor's style score (bench/yardstick.ts). 1e4 with the 128 px first
 * scale of DEFAULT_SCHEDULE brings the painting's palette and its large strokes; issue 21's note has the
 * figures.
 */
export const DEFAULT_LOSS_WEIGHTS: LossWeights = {
  content: 1,
  style: 1e4,
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

/**
 * The factor on sum (G_{r,l} - A_{r,l})^2 in Ls: weight / (4 N^2 M E), weight = beta * w_l, N channels,
 * M positions of x, E the region's effective positions (M for the whole image); 0 for an empty region.
 */
export function styleCoefficient(
  weight: number,
  channels: number,
  positions: number,
  effective: number,
): number {
  return effective > 0 ? weight / (4 * channels * channels * positions * effective) : 0;
}
