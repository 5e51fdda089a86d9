/**
 * The user-facing stylize options: one zod schema shared by the CLI (long flags, kebab-case), job specs
 * (`options`, camelCase) and S3 metadata (`x-amz-meta-nst-<kebab-case>`), so every entry point validates
 * the same way and lists every problem at once.
 */
import { z } from 'zod';
import { DEFAULT_LOSS_WEIGHTS } from './losses.js';
import { ADAM_AVERAGE_DECAY } from './optim/average.js';
import { LBFGS_DEFAULTS } from './optim/lbfgs.js';
import { DEFAULT_SCHEDULE } from './schedule.js';
import { STYLE_STRENGTH, styleWeightAt } from './style-strength.js';
import { MAX_TILE_SIZE, MIN_TILE_SIZE } from './tiling.js';

/** The largest result, longest side in pixels. */
export const MAX_SIZE = 4096;

/** Entries of a per-scale iteration list (4096 px from 16 px is 16 scales). */
const MAX_SCHEDULE_ENTRIES = 16;
const iterationCount = z.number().int().min(1).max(10_000);

export const stylizeOptionsSchema = z
  .object({
    size: z
      .number()
      .int()
      .min(16)
      .max(MAX_SIZE)
      .default(512)
      .describe('Longest side of the result in pixels'),
    iterations: z
      .union([iterationCount, z.array(iterationCount).min(1).max(MAX_SCHEDULE_ENTRIES)])
      .default([...DEFAULT_SCHEDULE.iterations])
      .describe(
        'Optimiser iterations per scale: one number for every scale, or a list whose last entry is the final ' +
          "scale's and whose other entries go to the scales from the first on, the last of them repeating",
      ),
    minSize: z
      .number()
      .int()
      .min(16)
      .max(MAX_SIZE)
      .default(DEFAULT_SCHEDULE.minSize)
      .describe('Longest side of the first (coarsest) scale; sizes grow by scaleGrowth up to size'),
    scaleGrowth: z
      .number()
      .min(1.1)
      .max(4)
      .default(DEFAULT_SCHEDULE.scaleGrowth)
      .describe('Size ratio between scales (as close as a whole number of scales allows)'),
    optimizer: z.enum(['lbfgs', 'adam']).default('lbfgs').describe('Optimiser'),
    learningRate: z
      .number()
      .positive()
      .optional()
      .describe('Optimiser step size (default: 1 for L-BFGS, 10 for Adam)'),
    averageDecay: z
      .number()
      .min(0)
      .lt(1)
      .optional()
      .describe(
        `Adam: decay of the running average of the iterates that becomes each scale's result (0: off; default ${ADAM_AVERAGE_DECAY}). L-BFGS does not average: a value above 0 with lbfgs is an error`,
      ),
    lbfgsHistory: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(LBFGS_DEFAULTS.historySize)
      .describe('L-BFGS: curvature pairs kept (each costs two image-sized vectors of memory)'),
    lineSearch: z
      .enum(['none', 'strong-wolfe'])
      .default(LBFGS_DEFAULTS.lineSearch)
      .describe(
        "L-BFGS step: 'none' (a fixed step, one evaluation per iteration) or 'strong-wolfe' (a line search, up to 25 evaluations per iteration)",
      ),
    contentWeight: z
      .number()
      .min(0)
      .default(DEFAULT_LOSS_WEIGHTS.content)
      .describe('alpha: weight of the content loss'),
    styleStrength: z
      .number()
      .min(STYLE_STRENGTH.min)
      .max(STYLE_STRENGTH.max)
      .optional()
      .describe(
        `How strongly the painting shows, ${STYLE_STRENGTH.min} (a hint of it) to ${STYLE_STRENGTH.max} (the painting takes over), fractions allowed: each step doubles beta, the style loss weight, against the default content weight (default ${STYLE_STRENGTH.default})`,
      ),
    styleWeight: z
      .number()
      .min(0)
      .optional()
      .describe(
        `beta, the style loss weight, for experts, instead of the style strength (default: what strength ${STYLE_STRENGTH.default} gives, ${styleWeightAt(STYLE_STRENGTH.default)})`,
      ),
    tvWeight: z
      .number()
      .min(0)
      .default(DEFAULT_LOSS_WEIGHTS.tv)
      .describe('Weight of the total-variation (smoothness) loss'),
    styleLayerWeights: z
      .array(z.number().min(0))
      .length(5)
      .default([...DEFAULT_LOSS_WEIGHTS.styleLayers])
      .describe('Style weights of relu1_1..relu5_1'),
    pooling: z.enum(['avg', 'max']).default('avg').describe('Pooling in VGG-19 (Gatys et al. prefer avg)'),
    init: z.enum(['content', 'random', 'image']).default('content').describe('Starting image'),
    styleScale: z
      .number()
      .min(0.1)
      .max(4)
      .default(1)
      .describe('Size of the style image relative to the result'),
    originalColors: z
      .boolean()
      .default(false)
      .describe("Keep the content's colours (luminance-only transfer)"),
    colorMatch: z
      .boolean()
      .default(false)
      .describe(
        "Match each style's colours to the content's (mean and covariance in RGB) before stylising. With original-colors too, the styles are matched first, then the result's luminance goes onto the content's colours",
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(0)
      .describe('Random seed (same inputs + seed + engine = same output)'),
    saveEvery: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        'Emit an intermediate image every N iterations (0: off; pipeline jobs: at least 10, at most 100 frames a job)',
      ),
    engine: z
      .enum(['auto', 'onnx', 'tfjs'])
      .default('auto')
      .describe('Engine: auto picks the fastest that loads'),
    threads: z.number().int().min(1).max(256).optional().describe('Worker threads (default: all cores)'),
    tileSize: z
      .number()
      .int()
      .min(MIN_TILE_SIZE)
      .max(MAX_TILE_SIZE)
      .optional()
      .describe(
        "Longest side of a tile: a scale larger than this is optimised as overlapping tiles that share the whole image's style statistics, in bounded memory (onnx engine; default: untiled when the run fits a default Lambda function's memory, else the largest tile with which it does)",
      ),
  })
  .strict()
  .superRefine((options, ctx) => {
    // Two settings of one balance: which one wins would be a guess.
    if (options.styleStrength !== undefined && options.styleWeight !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['styleWeight'],
        message:
          'the style strength and the style weight both set beta, the style loss weight: give one of them',
      });
    }
    // Refused rather than ignored: a user who sets it expects it to do something. 0 (off) is what L-BFGS does.
    if (options.optimizer === 'lbfgs' && options.averageDecay !== undefined && options.averageDecay > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['averageDecay'],
        message:
          'iterate averaging is for Adam only: use optimizer adam, or leave averageDecay unset with lbfgs',
      });
    }
  });

export type StylizeOptions = z.output<typeof stylizeOptionsSchema>;

export const DEFAULT_STYLIZE_OPTIONS: StylizeOptions = stylizeOptionsSchema.parse({});
