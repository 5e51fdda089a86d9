/**
 * `npm run bench -- --quality`: how stylised results are (issue 21). Each variant of `nst stylize` runs end to end
 * at 512 px on each pair, in its own process, and is scored with the yardstick (bench/yardstick.ts): the style
 * score and its per-layer terms, SSIM against the photo, and the seconds it took. A contact sheet per pair
 * shows them side by side.
 *
 * Variants (`--variant`, repeatable; by default `previous` and `default`):
 * - `default`: no flags;
 * - `previous`: the default before issue 21, by its flags;
 * - `jcjohnson`: jcjohnson/neural-style's defaults (weights, normalisation, max pooling, 1000 L-BFGS iterations
 *   with 100 pairs at one scale), expressed in our loss; about 15 minutes a pair on 2 cores;
 * - `strength:<n>`: `--style-strength n`;
 * - `flags:<flags>`: any flags, space-separated (`flags:--style-weight 3e4 --pooling max`).
 */
import path from 'node:path';
import { gridOf } from '../src/engine/shapes.js';
import { CONTENT_LAYER, STYLE_LAYERS, VGG19_LAYERS } from '../src/engine/vgg.js';
import { readImageMetadata } from '../src/image/decode.js';
import { fitLongestSide } from '../src/image/resize.js';
import {
  E2E_SIZE,
  type EndToEndRun,
  type EndToEndSetup,
  type Pair,
  stylizeOnce,
  type Variant,
  writeSheet,
} from './e2e.js';
import type { Measurement, Yardstick } from './yardstick.js';

export const DEFAULT_VARIANTS: readonly string[] = ['previous', 'default'];

/** The pairs of issue 21: the anchors' best-known examples and a portrait. */
export const QUALITY_PAIRS: readonly Pair[] = [
  { content: 'tubingen', style: 'starry_night' },
  { content: 'golden_gate', style: 'starry_night' },
  { content: 'brad_pitt', style: 'picasso_selfport1907' },
];

/** The defaults before issue 21: beta 1e3 over the seed author's layer weights, 256 -> 512 px. */
const PREVIOUS_DEFAULT_FLAGS = [
  ...['--style-weight', '1000', '--style-layer-weights', '1,0.8,0.5,0.3,0.1'],
  ...['--min-size', '256', '--scale-growth', '2', '--iterations', '60,100'],
];

/**
 * jcjohnson/neural-style's defaults in our loss's terms (src/engine/losses.ts). His content loss is
 * 5 mean((F - P)^2) over relu4_2's N_c x M_c features, his style loss per layer 100 mean((G - A)^2 / (N M)^2)
 * (his Grams are divided by the features' element count), and his TV gradient is 1e-3 times that of
 * 1/2 sum d^2. Ours is alpha/2 sum (F - P)^2 + sum_l beta w_l / (4 N^2 M^2) sum (G - A)^2 + tv sum d^2, so
 * the two are the same loss when alpha = 10 / (N_c M_c), beta w_l = 400 / N_l^2 and tv = 5e-4; alpha depends
 * on the result's size. Max pooling; random init (his is Gaussian noise of 0.001, ours uniform noise over the
 * pixel range); 1000 L-BFGS iterations with 100 pairs at one scale, no line search, as his.
 */
export function jcjohnsonFlags(width: number, height: number): string[] {
  const contentGrid = gridOf(CONTENT_LAYER, width, height);
  const contentChannels = VGG19_LAYERS.find((l) => l.name === CONTENT_LAYER)!.outChannels;
  const alpha = 10 / (contentChannels * contentGrid.width * contentGrid.height);
  const layerWeights = STYLE_LAYERS.map(
    (name) => 400 / VGG19_LAYERS.find((l) => l.name === name)!.outChannels ** 2,
  );
  return [
    ...[
      '--content-weight',
      String(alpha),
      '--style-weight',
      '1',
      '--style-layer-weights',
      layerWeights.join(','),
    ],
    ...['--tv-weight', '5e-4', '--pooling', 'max', '--init', 'random'],
    ...['--min-size', String(E2E_SIZE), '--iterations', '1000', '--lbfgs-history', '100'],
  ];
}

/** The variant a name stands for; jcjohnson's depends on the result's size. */
export function variantNamed(name: string, resultSize: { width: number; height: number }): Variant {
  if (name === 'default') return { name, flags: [] };
  if (name === 'previous') return { name, flags: PREVIOUS_DEFAULT_FLAGS };
  if (name === 'jcjohnson') return { name, flags: jcjohnsonFlags(resultSize.width, resultSize.height) };
  const [kind, value] = [name.slice(0, name.indexOf(':')), name.slice(name.indexOf(':') + 1)];
  if (kind === 'strength' && value) return { name, flags: ['--style-strength', value] };
  if (kind === 'flags' && value) return { name, flags: value.trim().split(/\s+/) };
  throw new Error(`--variant: "${name}" is not default, previous, jcjohnson, strength:<n> or flags:<flags>`);
}

export interface QualityRow extends Measurement {
  readonly pair: string;
  readonly variant: string;
  readonly seconds: number;
  readonly output: string;
}

/** Every variant on one pair, scored; and the pair's contact sheet. */
export async function qualityPair(
  setup: EndToEndSetup,
  yardstick: Yardstick,
  pair: Pair,
  variants: readonly string[],
): Promise<{ rows: QualityRow[]; sheet: string }> {
  const image = (kind: 'content' | 'style', name: string) =>
    path.join(setup.shared, 'images', kind, `${name}.jpg`);
  const photo = image('content', pair.content);
  const painting = image('style', pair.style);
  const { width, height } = await readImageMetadata(photo);
  const resultSize = fitLongestSide(width, height, E2E_SIZE);
  const rows: QualityRow[] = [];
  for (const name of variants) {
    const run: EndToEndRun = await stylizeOnce(setup, pair, variantNamed(name, resultSize));
    const measured = await yardstick.measure(run.output, painting, photo);
    rows.push({
      pair: `${pair.content} x ${pair.style}`,
      variant: name,
      seconds: run.wallSeconds,
      output: run.output,
      ...measured,
    });
  }
  const labels = rows.map((r) => ({
    output: r.output,
    label: `${r.variant}: style ${r.style.score.toExponential(2)}, SSIM ${r.ssim.toFixed(2)}, ${r.seconds.toFixed(0)} s`,
  }));
  return { rows, sheet: await writeSheet(setup, pair, labels, 'quality') };
}

/** One line per pair and variant: the score, its layer terms, SSIM, seconds, and the score against the first variant's. */
export function qualityTable(rows: readonly QualityRow[]): string[] {
  const e = (v: number) => v.toExponential(2).padStart(9);
  const lines = [
    `${'pair'.padEnd(34)} ${'variant'.padEnd(24)} ${'style'.padStart(9)} ${'x first'.padStart(7)}  ${STYLE_LAYERS.map((_, l) => `relu${l + 1}_1`.padStart(9)).join(' ')}   SSIM  seconds`,
  ];
  for (const row of rows) {
    const first = rows.find((r) => r.pair === row.pair)!;
    lines.push(
      `${row.pair.padEnd(34)} ${row.variant.padEnd(24)} ${e(row.style.score)} ${(row.style.score / first.style.score).toFixed(2).padStart(7)}  ${row.style.layers.map(e).join(' ')}  ${row.ssim.toFixed(3)}  ${row.seconds.toFixed(1).padStart(7)}`,
    );
  }
  return lines;
}
