/**
 * From an upload to a job: the spec (a drop-in's key and metadata, or a jobs/*.json file) and the input
 * images' bytes. Inputs are only ever read. Missing or unusable inputs are input errors that name the key.
 */
import { NstError } from '../errors.js';
import { outputFormatForName } from '../image/encode.js';
import { IMAGE_EXTENSIONS, type OutputFormat } from '../image/formats.js';
import type { ObjectStore, StoredObject } from '../storage/object-store.js';
import { PreconditionFailed } from '../storage/object-store.js';
import type { ImageInputs, ImageSource } from '../stylize-image.js';
import { STYLES_PREFIX, styleKeysFor, type Trigger } from './keys.js';
import { specFromMetadata } from './metadata.js';
import { type JobSpec, parseJobSpec } from './spec.js';

export interface Upload {
  readonly etag: string;
  readonly versionId?: string;
}

export interface ResolvedJob {
  readonly spec: JobSpec;
  /** Objects already read while resolving (the drop-in photo), by key. */
  readonly fetched: ReadonlyMap<string, StoredObject>;
}

/** Reads exactly the uploaded version: a later upload of the same key is its own job. */
async function readUpload(store: ObjectStore, key: string, upload: Upload): Promise<StoredObject> {
  let object: StoredObject | undefined;
  try {
    object = await store.get(
      key,
      upload.versionId ? { versionId: upload.versionId } : { ifMatch: upload.etag },
    );
  } catch (e) {
    if (!(e instanceof PreconditionFailed)) throw e;
    throw new NstError(
      'INPUT_CHANGED',
      `${key} was replaced after this upload; the newer upload runs as its own job`,
    );
  }
  if (!object) throw new NstError('IMAGE_NOT_FOUND', `${store.uri(key)} was deleted before the job ran`);
  return object;
}

/** The spec's output format, else the content's when it can be written, else JPEG. */
export function outputFormatFor(spec: JobSpec): OutputFormat {
  return spec.output.format ?? outputFormatForName(spec.content) ?? 'jpeg';
}

export async function resolveJob(store: ObjectStore, trigger: Trigger, upload: Upload): Promise<ResolvedJob> {
  switch (trigger.kind) {
    case 'spec': {
      const object = await readUpload(store, trigger.key, upload);
      return { spec: parseJobSpec(object.body.toString('utf8'), trigger.key), fetched: new Map() };
    }
    case 'drop-in': {
      const object = await readUpload(store, trigger.key, upload);
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
        `${trigger.key} is not a drop-in: put photos at inputs/<style>/<name>.jpg, with the painting at ${STYLES_PREFIX}<style>.jpg`,
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

/** The spec's images as stylizeImage() takes them, read from the bucket. */
export async function fetchInputs(
  store: ObjectStore,
  spec: JobSpec,
  fetched: ReadonlyMap<string, StoredObject> = new Map(),
): Promise<ImageInputs> {
  const read = async (key: string, missing: 'IMAGE_NOT_FOUND' | 'STYLE_NOT_FOUND'): Promise<ImageSource> => {
    const object = fetched.get(key) ?? (await store.get(key));
    if (!object) {
      throw new NstError(
        missing,
        `${store.uri(key)} does not exist${missing === 'STYLE_NOT_FOUND' ? ' (style painting)' : ''}`,
      );
    }
    return { data: object.body, name: key };
  };
  const content = await read(spec.content, 'IMAGE_NOT_FOUND');
  const styles = [];
  for (const style of spec.styles)
    styles.push({ source: await read(style.key, 'STYLE_NOT_FOUND'), weight: style.weight });
  const initImage = spec.initImage ? await read(spec.initImage, 'IMAGE_NOT_FOUND') : undefined;
  return { content, styles, initImage };
}
