/**
 * The style strength: how strongly the painting shows, from 1 (a hint of it) to 10 (the painting takes
 * over the photo), the one number a user sets instead of the style weight beta. Each step doubles beta
 * against the content weight; the default strength gives DEFAULT_LOSS_WEIGHTS.style. Doubling, because the
 * result follows the ratio of the weights on a log scale: 10x beta cut the style score 3x (issue 21), so a
 * step of 2x is one visible change, and 1..10 spans 512x.
 *
 * Strength sets beta outright: it is calibrated against the default content weight (1), so a run that
 * changes the content weight sets beta itself. Experts set beta (`styleWeight`); a job that sets both is
 * refused (options.ts).
 */
import { DEFAULT_LOSS_WEIGHTS } from './losses.js';

export const STYLE_STRENGTH = { min: 1, max: 10, default: 5 } as const;

/** How much each step of strength multiplies beta by. */
const STEP = 2;

/** beta at a strength (fractions allowed). */
export function styleWeightAt(strength: number): number {
  return DEFAULT_LOSS_WEIGHTS.style * STEP ** (strength - STYLE_STRENGTH.default);
}

/** beta for a run: the expert's styleWeight when given, else the one the strength (or its default) gives. */
export function styleWeightOf(options: { styleWeight?: number; styleStrength?: number }): number {
  return options.styleWeight ?? styleWeightAt(options.styleStrength ?? STYLE_STRENGTH.default);
}
