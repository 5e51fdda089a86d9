/**
 * The user's side of the bucket: submit a drop-in (upload the painting if given as a file, then the photo
 * with its options as x-amz-meta-nst-* metadata) and wait for its job.json. Used by `nst submit` and the
 * `npm start` demo; it speaks plain S3, so it works against the local server and a real bucket alike.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stylizeOptionsSchema } from '../engine/options.js';
import { NstError } from '../errors.js';
import { IMAGE_EXTENSIONS } from '../image/formats.js';
import { isFinished, type JobManifest } from '../jobs/lifecycle/manifest.js';
import { assignedJobId } from '../jobs/spec/job-id.js';
import { KEY_PREFIXES, outputKeys, STYLES_PREFIX, styleKeysFor } from '../jobs/spec/keys.js';
import { JOB_ID_METADATA, METADATA_PREFIX } from '../jobs/spec/metadata.js';
import { outputSettingsSchema } from '../jobs/spec/spec.js';
import type { ObjectStore } from '../storage/object-store.js';
import { camelToKebab } from '../text.js';
import { describeIssues } from '../validation.js';

export interface SubmitRequest {
  /** The photo, a local file. */
  readonly content: string;
  /** A style already in the bucket (styles/<name>.*), or a local painting file to upload first. */
  readonly style: string;
  /** Stylize options (camelCase); only these are sent, the pipeline's defaults fill the rest. */
  readonly options?: Readonly<Record<string, unknown>>;
  readonly output?: { readonly format?: string; readonly quality?: number };
}

export interface Submitted {
  readonly jobId: string;
  readonly contentKey: string;
  readonly styleKey: string;
  /** outputs/<jobId>/job.json */
  readonly statusKey: string;
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** A style name from a file name: "The Starry Night.jpg" -> "the-starry-night". */
const styleNameOf = (file: string) =>
  path
    .basename(file, path.extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'style';

/** The options as metadata, after checking them the way the pipeline will. */
export function optionsMetadata(
  options: Readonly<Record<string, unknown>>,
  output: SubmitRequest['output'] = {},
): Record<string, string> {
  const checks = [stylizeOptionsSchema.safeParse(options), outputSettingsSchema.safeParse(output)];
  const problems = checks.flatMap((check) => (check.success ? [] : describeIssues(check.error)));
  if (problems.length > 0)
    throw new NstError('INVALID_OPTION', `invalid options:\n  ${problems.join('\n  ')}`);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...options, ...output })) {
    if (value === undefined) continue;
    metadata[`${METADATA_PREFIX}${camelToKebab(key)}`] = Array.isArray(value)
      ? value.join(',')
      : String(value);
  }
  return metadata;
}

/**
 * Uploads the painting (when a file) and the photo. The job's id is given in advance, as the photo's
 * nst-job-id metadata, so it is known here whatever the bucket's versioning makes of the upload.
 */
export async function submitDropIn(store: ObjectStore, request: SubmitRequest): Promise<Submitted> {
  if (!isFile(request.content))
    throw new NstError('IMAGE_NOT_FOUND', `image file ${request.content} does not exist`);
  const options = optionsMetadata(request.options ?? {}, request.output);
  let style: string;
  let styleKey: string;
  if (isFile(request.style)) {
    style = styleNameOf(request.style);
    const extension = path.extname(request.style).slice(1).toLowerCase();
    if (!(IMAGE_EXTENSIONS as readonly string[]).includes(extension)) {
      throw new NstError(
        'IMAGE_UNSUPPORTED',
        `${request.style}: a painting needs one of .${IMAGE_EXTENSIONS.join(', .')}`,
      );
    }
    styleKey = `${STYLES_PREFIX}${style}.${extension}`;
    // The pipeline picks styles/<name>.* by extension rank: another extension there would win silently.
    const existing = await store.list(`${STYLES_PREFIX}${style}.`);
    const [winner] = styleKeysFor(style, [...existing, styleKey]);
    if (winner !== styleKey) {
      throw new NstError(
        'INVALID_OPTION',
        `${store.uri(winner)} already holds the style "${style}" and would be used instead of ${request.style}: rename the painting or delete that object`,
      );
    }
    await store.put(styleKey, await readFile(request.style));
  } else {
    style = request.style;
    styleKey = await styleInBucket(
      store,
      style,
      'pass a painting file with --style painting.jpg to upload one',
    );
  }
  const { key: contentKey, jobId, metadata } = dropInFor(style, request.content, options);
  await store.put(contentKey, await readFile(request.content), { metadata });
  return { jobId, contentKey, styleKey, statusKey: outputKeys(jobId).manifest };
}

/** The key of the style named `style` in the bucket; STYLE_NOT_FOUND (with `hint`) when there is none. */
export async function styleInBucket(store: ObjectStore, style: string, hint: string): Promise<string> {
  if (!/^[\w.-]+$/.test(style))
    throw new NstError('STYLE_NOT_FOUND', `${style} is neither a painting file nor a style name`);
  const [styleKey] = styleKeysFor(style, await store.list(`${STYLES_PREFIX}${style}.`));
  if (!styleKey) {
    throw new NstError(
      'STYLE_NOT_FOUND',
      `no style "${style}" in ${store.uri(STYLES_PREFIX)} (${IMAGE_EXTENSIONS.join(', ')}): ${hint}`,
    );
  }
  return styleKey;
}

/**
 * A drop-in's job id, given in advance (the file's name and random digits), its key, named by that id
 * (inputs/<style>/<jobId><extension>: another upload of the same file name cannot replace the photo before
 * its job has read it), and its metadata: the options and the id.
 */
export function dropInFor(
  style: string,
  file: string,
  options: Readonly<Record<string, string>>,
): { key: string; jobId: string; metadata: Record<string, string> } {
  const jobId = assignedJobId(path.basename(file));
  const key = `${KEY_PREFIXES.inputs}${style}/${jobId}${path.extname(file).toLowerCase()}`;
  return { key, jobId, metadata: { ...options, [JOB_ID_METADATA]: jobId } };
}

/** Polls job.json until the job has finished; returns the manifest. `onUpdate` sees each new version of it. */
export async function waitForJob(
  store: ObjectStore,
  jobId: string,
  opts: { timeoutSeconds?: number; pollMs?: number; onUpdate?: (manifest: JobManifest) => void } = {},
): Promise<JobManifest> {
  const timeoutSeconds = opts.timeoutSeconds ?? 3600;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let seen: string | undefined;
  for (;;) {
    const stored = await store.getJson<JobManifest>(outputKeys(jobId).manifest);
    const manifest = stored?.value;
    if (stored && stored.etag !== seen) {
      seen = stored.etag;
      opts.onUpdate?.(stored.value);
    }
    if (manifest && isFinished(manifest.status)) return manifest;
    if (Date.now() > deadline) {
      throw new NstError(
        'WAIT_TIMED_OUT',
        `job ${jobId} has not finished after ${timeoutSeconds} s (status ${manifest?.status ?? 'none yet'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 500));
  }
}
