/**
 * `nst example`: stylises the example pair that ships in examples/ and says where the result is. Finds the
 * weights the usual way (`nst demo`, what `npm start` runs, too); where there are none it fetches them first.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';
import { fetchWeights } from '../weights/fetch.js';
import { DEFAULT_WEIGHTS_DIR, resolveWeightsDir, weightsAvailable } from '../weights/lookup.js';
import type { ExampleFlags } from './commands/example.js';
import { runStylize } from './stylize.js';

export const EXAMPLE_CONTENT = path.join(PACKAGE_ROOT, 'examples/content.jpg');
export const EXAMPLE_STYLE = path.join(PACKAGE_ROOT, 'examples/style.jpg');
/** The development copy of the weights beside the checkout (see docs/ARCHITECTURE.md), used when nothing else is set up. */
const SHARED_WEIGHTS = path.resolve(PACKAGE_ROOT, '../shared/models/vgg19');

/** A weights directory for the example: the usual lookup, the shared development copy, or a fresh fetch. */
export async function exampleWeightsDir(): Promise<string> {
  if (weightsAvailable({})) return resolveWeightsDir({});
  if (existsSync(path.join(SHARED_WEIGHTS, 'weights.json'))) {
    process.stderr.write(`using the development weights in ${SHARED_WEIGHTS}\n`);
    return SHARED_WEIGHTS;
  }
  const out = path.resolve(DEFAULT_WEIGHTS_DIR);
  process.stderr.write(`no VGG-19 weights found: fetching them into ${out}\n`);
  await fetchWeights(out, {});
  return out;
}

/** Stylises the example pair into `flags.out`. */
export async function runExample(flags: ExampleFlags): Promise<void> {
  const weights = await exampleWeightsDir();
  await runStylize({
    content: EXAMPLE_CONTENT,
    style: [EXAMPLE_STYLE],
    output: flags.out,
    size: Number(flags.size),
    weights,
  });
  process.stderr.write(`example result: ${path.resolve(flags.out)}\n`);
}
