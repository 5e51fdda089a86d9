/** Where the weights are: the lookup order every entry point (CLI, Lambda, Batch, local mode) shares. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NstError } from '../errors.js';
import { HOW_TO_GET_WEIGHTS, MANIFEST_FILE } from './manifest.js';

/** The environment variable that names the weights directory (the pipeline's contract includes it). */
export const WEIGHTS_DIR_ENV = 'NST_WEIGHTS_DIR';
/** Where the Lambda weights layer mounts. */
export const LAMBDA_WEIGHTS_DIR = '/opt/vgg19';
/** The project-local default, relative to the working directory (where `nst weights fetch` writes). */
export const DEFAULT_WEIGHTS_DIR = path.join('models', 'vgg19');

/** How `--weights` is described wherever a command takes it. */
export const WEIGHTS_FLAG_HELP = `VGG-19 weights directory (default: $${WEIGHTS_DIR_ENV}, ${LAMBDA_WEIGHTS_DIR}, ./${DEFAULT_WEIGHTS_DIR})`;

export interface ResolveWeightsOptions {
  /** `--weights DIR`: used as given, even if missing, so the load error names it. */
  readonly flag?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The Lambda layer's mount point (injectable for tests). */
  readonly lambdaDir?: string;
}

const hasManifest = (dir: string) => existsSync(path.join(dir, MANIFEST_FILE));

/**
 * The weights directory: `--weights` or NST_WEIGHTS_DIR when given (as given, so a typo is an error that
 * names it rather than a silent fallback), else the first of /opt/vgg19 and ./models/vgg19 with a weights.json.
 */
export function resolveWeightsDir(opts: ResolveWeightsOptions = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.flag ?? ((opts.env ?? process.env)[WEIGHTS_DIR_ENV] || undefined);
  if (explicit !== undefined) return path.resolve(cwd, explicit);
  const candidates = [opts.lambdaDir ?? LAMBDA_WEIGHTS_DIR, path.resolve(cwd, DEFAULT_WEIGHTS_DIR)];
  const found = candidates.find(hasManifest);
  if (found) return found;
  const looked = ['--weights (not given)', `${WEIGHTS_DIR_ENV} (not set)`, ...candidates].join(', ');
  throw new NstError(
    'WEIGHTS_NOT_FOUND',
    `VGG-19 weights not found. Looked in: ${looked}. ${HOW_TO_GET_WEIGHTS}`,
  );
}

/** Whether resolveWeightsDir would find a directory with a weights.json (without reading it). */
export function weightsAvailable(opts: ResolveWeightsOptions = {}): boolean {
  try {
    return hasManifest(resolveWeightsDir(opts));
  } catch {
    return false;
  }
}
