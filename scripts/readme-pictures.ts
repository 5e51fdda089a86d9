/**
 * Renders the README's pictures from the bundled examples, as contact sheets under docs/images/:
 *
 * - masks.jpg: content | sky mask | style for the sky | style for the ground | the result with
 *   `--style-mask` (examples/style.jpg on the sky, examples/style-mosaic.jpg on the ground).
 * - colour-match.jpg: content | style | the result | with `--color-match` | with `--color-match
 *   --original-colors`.
 *
 * Run: npx tsx scripts/readme-pictures.ts [--size 384] [--threads N] (the default schedule)
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
import type { RgbImage } from '../src/engine/types.js';
import { contactSheet } from '../src/image/contact-sheet.js';
import { decodeImage } from '../src/image/decode.js';
import { stylizeImage } from '../src/stylize-image.js';
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
  const started = performance.now();
  const { output, result } = await stylizeImage(
    {
      content: source('content.jpg'),
      styles: [
        { source: source('style.jpg'), weight: 1, mask: source('mask-sky.png') },
        { source: source('style-mosaic.jpg'), weight: 1, mask: source('mask-ground.png') },
      ],
    },
    options,
    { format: 'png' },
    { weights },
  );
  process.stderr.write(
    `masks: ${result.iterations} iterations on ${result.backend} in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
  );
  const stylized = (await decodeImage(output)).image;
  await writeSheet(path.join(OUT, 'masks.jpg'), [
    { image: await decoded('content.jpg'), label: 'content' },
    { image: await decoded('mask-sky.png'), label: '--style-mask (sky)' },
    { image: await decoded('style.jpg'), label: 'style on the sky' },
    { image: await decoded('style-mosaic.jpg'), label: 'style on the ground' },
    { image: stylized, label: 'result' },
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
    const started = performance.now();
    const { output, result } = await stylizeImage(
      { content: source('content.jpg'), styles: [{ source: source('style.jpg'), weight: 1 }] },
      { ...options, ...variant },
      { format: 'png' },
      { weights },
    );
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    process.stderr.write(`${label}: ${result.iterations} iterations on ${result.backend} in ${seconds} s\n`);
    panels.push({ image: (await decodeImage(output)).image, label });
  }
  await writeSheet(path.join(OUT, 'colour-match.jpg'), panels);
}

async function main(): Promise<void> {
  const flags = new Command()
    .option('--size <px>', 'longest side of the results (the default schedule)', '384')
    .option('--threads <n>', 'engine threads (default: all cores)')
    .parse()
    .opts<{ size: string; threads?: string }>();
  const options: StylizeOptions = {
    ...DEFAULT_STYLIZE_OPTIONS,
    size: Number(flags.size),
    ...(flags.threads ? { threads: Number(flags.threads) } : {}),
  };
  await mkdir(OUT, { recursive: true });
  const weightsDir = await exampleWeightsDir();
  await renderMasks(options, weightsDir);
  await renderColourMatch(options, weightsDir);
}

await main();
