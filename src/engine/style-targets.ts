/**
 * The style targets A_{r,l} of losses.ts from each style image's own Grams: per region, the blend-weighted
 * sum of its styles' Grams, each rescaled from its image's positions to the region's effective size. Shared
 * by the onnx engine (Grams from its features graph) and tiled scales (Grams summed over style tiles).
 */
import type { StyleRegion } from './masks.js';
import { gridOf } from './shapes.js';
import { STYLE_LAYERS } from './vgg.js';

/**
 * `grams(s)` is style s's raw Grams F F^T at relu1_1..relu5_1, `sizes[s]` the size its features were taken
 * at. Returns A_{r,l} at index r * 5 + l.
 */
export async function blendStyleTargets(
  regions: readonly StyleRegion[],
  sizes: readonly { readonly width: number; readonly height: number }[],
  grams: (style: number) => Promise<readonly Float32Array[]>,
): Promise<Float32Array[]> {
  const targets: Float32Array[] = [];
  for (const region of regions) {
    const sums: Float64Array[] = [];
    for (const [k, s] of region.styles.entries()) {
      const own = await grams(s);
      STYLE_LAYERS.forEach((layer, l) => {
        const positions = gridOf(layer, sizes[s].width, sizes[s].height);
        const factor = (region.blend[k] * region.effective[l]) / (positions.width * positions.height);
        sums[l] ??= new Float64Array(own[l].length);
        for (let i = 0; i < own[l].length; i++) sums[l][i] += factor * own[l][i];
      });
    }
    targets.push(...sums.map((sum) => Float32Array.from(sum)));
  }
  return targets;
}
