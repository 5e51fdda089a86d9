/**
 * Builds the VGG-19 weights layer: a folder whose `vgg19/` directory Lambda mounts at /opt/vgg19
 * (LAMBDA_WEIGHTS_DIR, where the handler's weights lookup finds it). The weights are read and validated
 * by the engine's loader and written back, float16 by default: half the size (26 MB instead of 52 MB),
 * widened to float32 again when loaded.
 *
 * Run directly: `npx tsx layers/vgg19/build.ts --out DIR [--weights DIR] [--float32]`.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isNstError, NstError } from '../../src/errors.js';
import { LAMBDA_WEIGHTS_DIR, resolveWeightsDir } from '../../src/weights/lookup.js';
import { loadWeights, writeWeights } from '../../src/weights/store.js';

/** The layer's only top-level directory; layers are extracted to /opt. */
const VGG19_LAYER_SUBDIR = path.basename(LAMBDA_WEIGHTS_DIR);

interface Vgg19LayerOptions {
  /** The layer folder to create (replaced as a whole). */
  readonly outDir: string;
  /** The source weights; unset: the engine's lookup (NST_WEIGHTS_DIR, then ./models/vgg19). */
  readonly weightsDir?: string;
  /** Store float16 (default true). */
  readonly float16?: boolean;
}

interface Vgg19Layer {
  readonly dir: string;
  readonly sourceDir: string;
  /** Bytes of tensor data in the layer. */
  readonly bytes: number;
}

const DEPLOY_HINT =
  'The Lambda weights layer is built from them at synth: put them in ./models/vgg19, set NST_WEIGHTS_DIR, ' +
  'or pass `-c weightsDir=DIR` to cdk.';

/** The weights lookup's error, with how the layer build finds weights added. */
export function withDeployHint(e: unknown): unknown {
  if (isNstError(e) && e.code === 'WEIGHTS_NOT_FOUND') {
    return new NstError(e.code, `${e.message} ${DEPLOY_HINT}`, { cause: e });
  }
  return e;
}

export async function buildVgg19Layer(opts: Vgg19LayerOptions): Promise<Vgg19Layer> {
  try {
    const sourceDir = opts.weightsDir ? path.resolve(opts.weightsDir) : resolveWeightsDir();
    const weights = await loadWeights(sourceDir);
    const dir = path.resolve(opts.outDir);
    const { bytes } = await writeWeights(path.join(dir, VGG19_LAYER_SUBDIR), weights, {
      float16: opts.float16 ?? true,
    });
    return { dir, sourceDir, bytes };
  } catch (e) {
    throw withDeployHint(e);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, weights: { type: 'string' }, float32: { type: 'boolean' } },
  });
  if (!values.out)
    throw new NstError('INVALID_OPTION', 'usage: build.ts --out DIR [--weights DIR] [--float32]');
  const layer = await buildVgg19Layer({
    outDir: values.out,
    weightsDir: values.weights,
    float16: !values.float32,
  });
  console.log(`vgg19 layer: ${layer.dir} (${layer.bytes} bytes of weights from ${layer.sourceDir})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}
