/**
 * From an upload to a job: the spec (a drop-in's key and metadata, or a jobs/*.json file) and the input
 * images' bytes. Inputs are only ever read. Missing, forbidden, too large or unusable inputs are input
 * errors that name the key and why.
 */
import { NstError } from '../../errors.js';
import { outputFormatForName } from '../../image/encode.js';
import { IMAGE_EXTENSIONS, type OutputFormat } from '../../image/formats.js';
import type { ObjectStore, ReadOptions, StoredObject } from '../../storage/object-store.js';
import { PreconditionFailed } from '../../storage/object-store.js';
import type { ImageInputs, ImageSource, OutputSettings } from '../../stylize-image.js';
import { PIPELINE_ENV, type PipelineConfig } from '../config.js';
import { readOptionsOf } from './job-id.js';
import {
  KEY_PREFIXES,
  prefixList,
  SPEC_IMAGE_PREFIXES,
  STYLES_PREFIX,
  styleKeysFor,
  type Trigger,
} from './keys.js';
import { specFromMetadata } from './metadata.js';
import { type JobSpec, MAX_SPEC_BYTES, parseJobSpec, taskTokenIn } from './spec.js';

const MAX_INPUT_BYTES_ENV = PIPELINE_ENV.maxInputBytes;

interface Upload {
  readonly etag: string;
  readonly versionId?: string;
}

/** Where a job's spec comes from: the upload that started it, or job.json (a later run of the job). */
export type JobRequest = { readonly trigger: Trigger; readonly upload: Upload } | { readonly spec: JobSpec };

interface ResolvedSpec {
  readonly spec: JobSpec;
  /** Objects already read while resolving it (the drop-in photo), by key. */
  readonly fetched?: ReadonlyMap<string, StoredObject>;
}

/** A job's spec and its images' bytes, read once per run. */
export interface JobInputs {
  readonly spec: JobSpec;
  readonly images: ImageInputs;
}

/** Limits on what a job reads. */
export interface ReadLimits {
  /** The largest input object, in bytes (NST_MAX_INPUT_BYTES). */
  readonly maxInputBytes: number;
}

const MIB = 1024 * 1024;
const bytesText = (n: number) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB (${n} bytes)` : `${n} bytes`);

/**
 * An input object, or the input error that says why there is none: missing and forbidden objects are the
 * user's problem (a key the pipeline may not read, a deleted upload), never a transient failure.
 */
async function readInput(
  store: ObjectStore,
  key: string,
  opts: ReadOptions & {
    readonly code: 'IMAGE_NOT_FOUND' | 'STYLE_NOT_FOUND';
    readonly what: string;
    readonly missing: string;
    readonly limit: string;
  },
): Promise<StoredObject> {
  const read = await store.read(key, opts);
  switch (read.status) {
    case 'found':
      return read.object;
    case 'missing':
      throw new NstError(opts.code, `${opts.what} ${store.uri(key)} ${opts.missing}`);
    case 'denied':
      throw new NstError(
        opts.code,
        `${opts.what} ${store.uri(key)} cannot be read: access denied (${read.reason}); the pipeline reads ` +
          `photos and masks under ${prefixList(SPEC_IMAGE_PREFIXES)} and paintings under ${STYLES_PREFIX} only`,
      );
    case 'too-large':
      throw new NstError(
        'INPUT_TOO_LARGE',
        `${opts.what} ${store.uri(key)} is ${bytesText(read.bytes)}, over the limit of ` +
          `${bytesText(opts.maxBytes!)} ${opts.limit}`,
      );
  }
}

/** Reads exactly the uploaded version: a later upload of the same key is its own job. */
async function readUpload(
  store: ObjectStore,
  trigger: { kind: 'spec' | 'drop-in'; key: string },
  upload: Upload,
  limits: ReadLimits,
): Promise<StoredObject> {
  const spec = trigger.kind === 'spec';
  try {
    return await readInput(store, trigger.key, {
      ...readOptionsOf(upload),
      code: 'IMAGE_NOT_FOUND',
      what: spec ? 'job spec' : 'photo',
      missing: 'was deleted before the job ran',
      maxBytes: spec ? MAX_SPEC_BYTES : limits.maxInputBytes,
      limit: spec ? 'for a job spec' : `(${MAX_INPUT_BYTES_ENV})`,
    });
  } catch (e) {
    if (!(e instanceof PreconditionFailed)) throw e;
    throw new NstError(
      'INPUT_CHANGED',
      `${trigger.key} was replaced after this upload; the newer upload runs as its own job`,
    );
  }
}

/** The spec's output format, else the content's when it can be written, else JPEG. */
export function outputFormatFor(spec: JobSpec): OutputFormat {
  return spec.output.format ?? outputFormatForName(spec.content) ?? 'jpeg';
}

/** How a job's result is written: its format and quality, its alpha, and the pixel limit of its inputs. */
export function outputSettingsFor(spec: JobSpec, config: Pick<PipelineConfig, 'maxPixels'>): OutputSettings {
  return {
    format: outputFormatFor(spec),
    quality: spec.output.quality,
    keepAlpha: spec.output.keepAlpha,
    maxPixels: config.maxPixels,
  };
}

/** What reading a job's inputs tells as soon as it is known, so that a job failing later records it. */
export interface HeardInputs {
  /** The spec, valid. */
  spec?(spec: JobSpec): void;
  /** A spec file's task token, heard before the spec is validated (an invalid one's waiter hears too). */
  taskToken?(taskToken: string): void;
}

/**
 * Reads what a job needs: its spec (resolved from the upload, or as job.json holds it) and then every image
 * it names.
 */
export async function readJobInputs(
  store: ObjectStore,
  request: JobRequest,
  limits: ReadLimits,
  heard: HeardInputs = {},
): Promise<JobInputs> {
  const resolved: ResolvedSpec =
    'spec' in request ? request : await resolveJob(store, request, limits, heard);
  heard.spec?.(resolved.spec);
  const images = await fetchImages(store, resolved.spec, { fetched: resolved.fetched, limits });
  return { spec: resolved.spec, images };
}

/** The spec of a new job, from its upload. */
async function resolveJob(
  store: ObjectStore,
  { trigger, upload }: { readonly trigger: Trigger; readonly upload: Upload },
  limits: ReadLimits,
  heard: HeardInputs,
): Promise<ResolvedSpec> {
  switch (trigger.kind) {
    case 'spec': {
      const text = (await readUpload(store, trigger, upload, limits)).body.toString('utf8');
      const taskToken = taskTokenIn(text);
      if (taskToken) heard.taskToken?.(taskToken);
      return { spec: parseJobSpec(text, trigger.key) };
    }
    case 'drop-in': {
      const object = await readUpload(store, trigger, upload, limits);
      const styleKey = await findStyle(store, trigger.style);
      const spec = specFromMetadata(object.metadata, {
        content: trigger.key,
        styles: [{ key: styleKey, weight: 1 }],
      });
      return { spec, fetched: new Map([[trigger.key, object]]) };
    }
    case 'misplaced':
      throw new NstError(
        'INVALID_JOB_SPEC',
        `${trigger.key} is not a drop-in: put photos at ${KEY_PREFIXES.inputs}<style>/<name>.jpg, with the painting at ` +
          `${STYLES_PREFIX}<style>.jpg; a spec's photo belongs under ${KEY_PREFIXES.assets}, where it starts nothing`,
      );
    case 'ignored':
      throw new Error(`${trigger.key} is not a job`);
  }
}

async function findStyle(store: ObjectStore, style: string): Promise<string> {
  const [key] = styleKeysFor(style, await store.list(`${STYLES_PREFIX}${style}.`));
  if (key) return key;
  throw new NstError(
    'STYLE_NOT_FOUND',
    `no style painting ${store.uri(`${STYLES_PREFIX}${style}`)}.{${IMAGE_EXTENSIONS.join(',')}}: upload the painting there first`,
  );
}

/** The spec's images as stylizeImage() takes them, read from the bucket (each under the byte limit). */
async function fetchImages(
  store: ObjectStore,
  spec: JobSpec,
  opts: { readonly fetched?: ReadonlyMap<string, StoredObject>; readonly limits: ReadLimits },
): Promise<ImageInputs> {
  const maxBytes = opts.limits.maxInputBytes;
  const read = async (
    key: string,
    code: 'IMAGE_NOT_FOUND' | 'STYLE_NOT_FOUND',
    what = code === 'STYLE_NOT_FOUND' ? 'style painting' : 'image',
  ): Promise<ImageSource> => {
    const object =
      opts.fetched?.get(key) ??
      (await readInput(store, key, {
        code,
        what,
        missing: 'does not exist',
        maxBytes,
        limit: `(${MAX_INPUT_BYTES_ENV})`,
      }));
    return { data: object.body, name: key };
  };
  const content = await read(spec.content, 'IMAGE_NOT_FOUND');
  const styles = [];
  for (const style of spec.styles) {
    const source = await read(style.key, 'STYLE_NOT_FOUND');
    // A missing mask is the same kind of problem as a missing painting: the style cannot be applied.
    const mask = style.mask ? await read(style.mask, 'STYLE_NOT_FOUND', 'style mask') : undefined;
    styles.push({ source, weight: style.weight, ...(mask ? { mask } : {}) });
  }
  const initImage = spec.initImage ? await read(spec.initImage, 'IMAGE_NOT_FOUND') : undefined;
  return { content, styles, initImage };
}
