/**
 * Renders the README's pictures from the bundled examples, as contact sheets under docs/images/:
 *
 * - masks.jpg: content | sky mask | style for the sky | style for the ground | the result with
 *   `--style-mask` (examples/style.jpg on the sky, examples/style-mosaic.jpg on the ground).
 * - colour-match.jpg: content | style | the result | with `--color-match` | with `--color-match
 *   --original-colors`.
 * - style-strength.jpg: content | style | the result at `--style-strength` 1, 3, 5 (the default), 7 and 9.
 *
 * Run: npx tsx scripts/readme-pictures.ts [--size 384] [--threads N] [--only style-strength] [--results DIR]
 * (the default schedule)
 * Weights: the usual lookup, else ../shared/models/vgg19, else fetched (as `nst example`). Deterministic for
 * the same engine, threads and weights.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import sharp from 'sharp';
import { exampleWeightsDir } from '../src/cli/example.js';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../src/engine/options.js';
import { STYLE_STRENGTH } from '../src/engine/style-strength.js';
import type { RgbImage, VggWeights } from '../src/engine/types.js';
import { contactSheet } from '../src/image/contact-sheet.js';
import { decodeImage } from '../src/image/decode.js';
import { type ImageInputs, stylizeImage } from '../src/stylize-image.js';
import { loadWeights } from '../src/weights/store.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = (name: string) => path.join(ROOT, 'examples', name);
const OUT = path.join(ROOT, 'docs/images');
/** Each sheet stays well under the ~300 kB a README picture should weigh. */
const SHEET_HEIGHT = 220;
const JPEG_QUALITY = 84;

const source = (name: string) => ({ data: example(name), name: `examples/${name}` });
const decoded = async (name: string): Promise<RgbImage> => (await decodeImage(example(name))).image;

async function writeSheet(file: string, panels: { image: RgbImage; label: string }[]): Promise<void> {
  const png = await contactSheet(panels, { height: SHEET_HEIGHT });
  const jpeg = await sharp(png).jpeg({ quality: JPEG_QUALITY, mozjpeg: true }).toBuffer();
  await writeFile(file, jpeg);
  process.stderr.write(`wrote ${path.relative(ROOT, file)} (${Math.round(jpeg.length / 1024)} kB)\n`);
}

/** The sky in one painting's style, the ground (mountains, lake, shore) in another's. */
async function renderMasks(options: StylizeOptions, weightsDir: string): Promise<void> {
  const weights = await loadWeights(weightsDir);
  const result = await stylized(options, weights, 'masks', [
    { source: source('style.jpg'), weight: 1, mask: source('mask-sky.png') },
    { source: source('style-mosaic.jpg'), weight: 1, mask: source('mask-ground.png') },
  ]);
  await writeSheet(path.join(OUT, 'masks.jpg'), [
    { image: await decoded('content.jpg'), label: 'content' },
    { image: await decoded('mask-sky.png'), label: '--style-mask (sky)' },
    { image: await decoded('style.jpg'), label: 'style on the sky' },
    { image: await decoded('style-mosaic.jpg'), label: 'style on the ground' },
    { image: result, label: 'result' },
  ]);
}

/**
 * The bundled pair plain, with --color-match, and with --color-match --original-colors: the painting's
 * texture in its own colours, in the photo's palette, and on the photo's exact chrominance.
 */
async function renderColourMatch(options: StylizeOptions, weightsDir: string): Promise<void> {
  const weights = await loadWeights(weightsDir);
  const variants = [
    { label: 'result', colorMatch: false, originalColors: false },
    { label: '--color-match', colorMatch: true, originalColors: false },
    { label: '--color-match --original-colors', colorMatch: true, originalColors: true },
  ];
  const panels = [
    { image: await decoded('content.jpg'), label: 'content' },
    { image: await decoded('style.jpg'), label: 'style' },
  ];
  for (const { label, ...variant } of variants) {
    panels.push({ image: await stylized({ ...options, ...variant }, weights, label), label });
  }
  await writeSheet(path.join(OUT, 'colour-match.jpg'), panels);
}

/** The bundled pair at five strengths: each step of 2 doubles the style's weight twice. */
async function renderStrengthSweep(options: StylizeOptions, weightsDir: string): Promise<void> {
  const weights = await loadWeights(weightsDir);
  const panels = [
    { image: await decoded('content.jpg'), label: 'content' },
    { image: await decoded('style.jpg'), label: 'style' },
  ];
  for (const styleStrength of [1, 3, 5, 7, 9]) {
    const label = `--style-strength ${styleStrength}${styleStrength === STYLE_STRENGTH.default ? ' (default)' : ''}`;
    panels.push({ image: await stylized({ ...options, styleStrength }, weights, label), label });
  }
  await writeSheet(path.join(OUT, 'style-strength.jpg'), panels);
}

/** The bundled photo stylised with these options (and the bundled painting, unless styles are given). */
async function stylized(
  options: StylizeOptions,
  weights: VggWeights,
  label: string,
  styles: ImageInputs['styles'] = [{ source: source('style.jpg'), weight: 1 }],
): Promise<RgbImage> {
  const started = performance.now();
  const { output, result } = await stylizeImage(
    { content: source('content.jpg'), styles },
    options,
    { format: 'png' },
    { weights },
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stderr.write(`${label}: ${result.iterations} iterations on ${result.backend} in ${seconds} s\n`);
  const fileName = label.replace(/^-+/, '').replace(/[^\w.-]+/g, '_');
  if (resultsDir) await writeFile(path.join(resultsDir, `${fileName}.png`), output);
  return (await decodeImage(output)).image;
}

const SHEETS = {
  masks: renderMasks,
  'colour-match': renderColourMatch,
  'style-strength': renderStrengthSweep,
} as const;

/** Where --results asks each result of the bundled pair to be kept too (to score it: bench/yardstick.ts). */
let resultsDir: string | undefined;

async function main(): Promise<void> {
  const flags = new Command()
    .option('--size <px>', 'longest side of the results (the default schedule)', '384')
    .option('--threads <n>', 'engine threads (default: all cores)')
    .option('--only <sheets>', `some of the sheets: ${Object.keys(SHEETS).join(', ')}`)
    .option('--results <dir>', 'also write each result of the bundled pair there, as PNG')
    .parse()
    .opts<{ size: string; threads?: string; only?: string; results?: string }>();
  const options: StylizeOptions = {
    ...DEFAULT_STYLIZE_OPTIONS,
    size: Number(flags.size),
    ...(flags.threads ? { threads: Number(flags.threads) } : {}),
  };
  const names = flags.only?.split(',') ?? Object.keys(SHEETS);
  const unknown = names.filter((name) => !(name in SHEETS));
  if (unknown.length > 0)
    throw new Error(`--only: no sheet ${unknown.join(', ')} (${Object.keys(SHEETS).join(', ')})`);
  await mkdir(OUT, { recursive: true });
  resultsDir = flags.results && path.resolve(flags.results);
  if (resultsDir) await mkdir(resultsDir, { recursive: true });
  const weightsDir = await exampleWeightsDir();
  for (const name of names) await SHEETS[name as keyof typeof SHEETS](options, weightsDir);
}

await main();
