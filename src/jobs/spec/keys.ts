/**
 * The bucket's key conventions (the S3 contract in docs/ARCHITECTURE.md): what a new object means, and
 * where a job's outputs go. Everything the pipeline writes is under outputs/<jobId>/, which never triggers.
 */
import { createHash } from 'node:crypto';
import { extensionFor, IMAGE_EXTENSIONS, type OutputFormat } from '../../image/formats.js';

/**
 * The bucket's key prefixes: uploads to inputs/ and jobs/ start jobs; styles/ holds the paintings; assets/
 * holds what specs name (photos, masks, starting images) and starts nothing; the pipeline writes only under
 * outputs/.
 */
export const KEY_PREFIXES = {
  inputs: 'inputs/',
  jobs: 'jobs/',
  styles: 'styles/',
  assets: 'assets/',
  outputs: 'outputs/',
} as const;

/** Prefixes whose ObjectCreated events start jobs (the bucket notification's filters). */
export const TRIGGER_PREFIXES = [KEY_PREFIXES.inputs, KEY_PREFIXES.jobs] as const;

/**
 * Where a spec names its photo and starting image: under assets/ (where the upload starts nothing) or under
 * inputs/ (where it is also a drop-in job of its own).
 */
export const SPEC_IMAGE_PREFIXES = [KEY_PREFIXES.assets, KEY_PREFIXES.inputs] as const;

/** Where a style's mask may be: beside the paintings, or where the spec's images are. */
export const MASK_PREFIXES = [KEY_PREFIXES.styles, ...SPEC_IMAGE_PREFIXES] as const;

/** Prefixes the pipeline reads (its IAM role's scope): the specs, the paintings, and what specs name. */
export const READ_PREFIXES = [KEY_PREFIXES.jobs, ...MASK_PREFIXES] as const;

/** Prefixes as a sentence: "a/, b/ or c/". */
export const prefixList = (prefixes: readonly string[]): string =>
  prefixes.length < 2 ? prefixes.join('') : `${prefixes.slice(0, -1).join(', ')} or ${prefixes.at(-1)}`;

export const STYLES_PREFIX = KEY_PREFIXES.styles;

/** What an uploaded key asks for. */
export type Trigger =
  /** inputs/<style>/<name>.<ext>: stylise this photo with styles/<style>.<ext>. */
  | { readonly kind: 'drop-in'; readonly key: string; readonly style: string; readonly name: string }
  /** jobs/<name>.json: an explicit job spec. */
  | { readonly kind: 'spec'; readonly key: string; readonly name: string }
  /** A drop-in in the wrong place (inputs/photo.jpg): a job that fails with a message saying where to put it. */
  | { readonly kind: 'misplaced'; readonly key: string; readonly name: string }
  /** Not a job: folder placeholders, other prefixes, non-JSON files under jobs/. */
  | { readonly kind: 'ignored'; readonly key: string };

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const stripExtension = (name: string) => (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name);

export function classifyKey(key: string): Trigger {
  if (key.endsWith('/')) return { kind: 'ignored', key };
  if (key.startsWith(KEY_PREFIXES.jobs)) {
    return key.toLowerCase().endsWith('.json')
      ? { kind: 'spec', key, name: stripExtension(baseName(key)) }
      : { kind: 'ignored', key };
  }
  if (key.startsWith(KEY_PREFIXES.inputs)) {
    const rest = key.slice(KEY_PREFIXES.inputs.length);
    const slash = rest.indexOf('/');
    const name = stripExtension(baseName(rest));
    if (slash <= 0) return { kind: 'misplaced', key, name };
    return { kind: 'drop-in', key, style: rest.slice(0, slash), name };
  }
  return { kind: 'ignored', key };
}

/** styles/<style>.<ext> keys that match a style name, in IMAGE_EXTENSIONS order. */
export function styleKeysFor(style: string, keys: readonly string[]): string[] {
  const prefix = `${STYLES_PREFIX}${style}.`;
  const rank = (key: string) =>
    (IMAGE_EXTENSIONS as readonly string[]).indexOf(key.slice(prefix.length).toLowerCase());
  return keys.filter((k) => k.startsWith(prefix) && rank(k) >= 0).sort((a, b) => rank(a) - rank(b));
}

/**
 * Where the spec of a job a Step Functions task waits on is written (a direct invoke): named by its task
 * token, so a retried invoke names the same object.
 */
export function waitedSpecKey(taskToken: string): string {
  return `${KEY_PREFIXES.jobs}task-${createHash('sha256').update(taskToken).digest('hex').slice(0, 16)}.json`;
}

const MANIFEST_NAME = 'job.json';
const RESULT_STEM = 'result.';

/** Where a job's objects live. */
export function outputKeys(jobId: string) {
  const dir = `${KEY_PREFIXES.outputs}${jobId}/`;
  return {
    dir,
    lock: `${dir}lock.json`,
    manifest: `${dir}${MANIFEST_NAME}`,
    /** Every result object of the job starts so (one per format). */
    resultPrefix: `${dir}${RESULT_STEM}`,
    result: (format: OutputFormat) => `${dir}${RESULT_STEM}${extensionFor(format)}`,
    frame: (iteration: number, format: OutputFormat) =>
      `${dir}frames/${String(iteration).padStart(5, '0')}.${extensionFor(format)}`,
    checkpoint: `${dir}checkpoint.json`,
    /** A tiled scale's plan, targets and rounds, for its Step Functions execution (src/jobs/tiled). */
    tiles: `${dir}tiles/`,
    /** Versioned by scale and iteration: a record written after its image never points at another one. */
    checkpointImage: (scaleIndex: number, iteration: number) =>
      `${dir}checkpoints/${scaleIndex}-${iteration}.png`,
  };
}

/** What an object under outputs/ is: a job's job.json, one of its results, or another of its objects. */
export function outputObjectOf(
  key: string,
): { readonly jobId: string; readonly object: 'manifest' | 'result' | 'other' } | undefined {
  if (!key.startsWith(KEY_PREFIXES.outputs)) return undefined;
  const rest = key.slice(KEY_PREFIXES.outputs.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const jobId = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  if (name === MANIFEST_NAME) return { jobId, object: 'manifest' };
  if (name.startsWith(RESULT_STEM) && !name.includes('/')) return { jobId, object: 'result' };
  return { jobId, object: 'other' };
}
