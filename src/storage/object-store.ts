/**
 * One bucket as the pipeline sees it: get, read, put (optionally conditional), list. Every S3 failure comes
 * out classified, because the pipeline's retry policy depends on it: a missing object is `undefined`, a
 * failed precondition is a `PreconditionFailed`, and anything else (network, throttling, 5xx, access) is a
 * transient NstError so the platform retries the invocation.
 *
 * read() is for a job's inputs, whose problems are the user's: it answers a missing, forbidden or too large
 * object as a typed result (ReadResult) for the caller to name, instead of a transient error. The pipeline's
 * own objects (lock, job.json) use get(), where an access error is the deployment's and stays transient.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { NstError } from '../errors.js';

/** The object tag the bucket's lifecycle rule expires (frames, checkpoints). */
export const TEMPORARY_TAG = { key: 'nst-temporary', value: 'true' } as const;
const TEMPORARY_TAGGING = `${TEMPORARY_TAG.key}=${TEMPORARY_TAG.value}`;

export interface ListedObject {
  readonly key: string;
  readonly lastModified: Date;
  /** As S3 lists it, with quotes. */
  readonly etag: string;
  readonly size: number;
}

export interface StoredObject {
  readonly body: Buffer;
  /** As S3 returns it, with quotes. */
  readonly etag: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType?: string;
}

/** What read() found. */
export type ReadResult =
  | { readonly status: 'found'; readonly object: StoredObject }
  | { readonly status: 'missing' }
  /** S3 answered AccessDenied (IAM, bucket policy or KMS); `reason` is S3's message. */
  | { readonly status: 'denied'; readonly reason: string }
  /** Over `maxBytes`: `bytes` is the object's size (or, with no Content-Length, the bytes seen so far). */
  | { readonly status: 'too-large'; readonly bytes: number };

export interface ReadOptions extends GetOptions {
  /** Refuse objects larger than this, before their body is read (Content-Length) and while it streams. */
  readonly maxBytes?: number;
}

export interface GetOptions {
  /** Only this exact version of the object (a quoted or bare ETag). */
  readonly ifMatch?: string;
  readonly versionId?: string;
}

export interface PutOptions {
  readonly contentType?: string;
  readonly metadata?: Record<string, string>;
  /** '*': create only; fails with PreconditionFailed when the key exists. */
  readonly ifNoneMatch?: '*';
  /** Replace only this version (compare-and-swap on the ETag). */
  readonly ifMatch?: string;
  /** Tag the object for the lifecycle rule that expires temporary objects. */
  readonly temporary?: boolean;
}

/** A conditional request lost: the object exists (If-None-Match) or changed (If-Match). */
export class PreconditionFailed extends Error {
  constructor(readonly key: string) {
    super(`precondition failed for ${key}`);
    this.name = 'PreconditionFailed';
  }
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const status = (e: unknown) => (e as SdkError).$metadata?.httpStatusCode;
const name = (e: unknown) => (e as SdkError).name ?? '';
// Only AccessDenied: other 403s (expired or skewed credentials, a bad signature) are the deployment's.
const isDenied = (e: unknown) => name(e) === 'AccessDenied';
const isMissing = (e: unknown) =>
  status(e) === 404 || ['NoSuchKey', 'NotFound'].includes((e as SdkError).name ?? '');
// S3 answers 409 ConditionalRequestConflict when two conditional writes race.
const isPrecondition = (e: unknown) =>
  status(e) === 412 ||
  ['PreconditionFailed', 'ConditionalRequestConflict'].includes((e as SdkError).name ?? '');

const quoteEtag = (etag: string): string => (etag.startsWith('"') ? etag : `"${etag}"`);

/** Whether two ETags name one version, quoted or bare (events carry them bare, responses quoted). */
export const sameEtag = (a: string, b: string): boolean => quoteEtag(a) === quoteEtag(b);

/**
 * The bucket as the pipeline sees it: every key given and answered is relative to `keyPrefix` (the folder
 * the pipeline's layout lives under in a shared bucket; '' for the bucket's top), and only this class puts
 * it on and takes it off.
 */
export class ObjectStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly keyPrefix = '',
  ) {}

  /** The bucket's key of the pipeline's `key`. */
  objectKey(key: string): string {
    return `${this.keyPrefix}${key}`;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  /** The object, or undefined when there is none; access errors are transient (the pipeline's own objects). */
  async get(key: string, opts: GetOptions = {}): Promise<StoredObject | undefined> {
    const read = await this.read(key, opts);
    if (read.status === 'found') return read.object;
    if (read.status === 'denied')
      throw this.unavailable('read', key, new Error(`access denied: ${read.reason}`));
    return undefined;
  }

  /**
   * A job's input: the object, or why there is none (missing, denied, over `maxBytes`). A too large object
   * is refused from its Content-Length before any of its body is read; the body is never copied.
   */
  async read(key: string, opts: ReadOptions = {}): Promise<ReadResult> {
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          VersionId: opts.versionId,
          IfMatch: opts.ifMatch ? quoteEtag(opts.ifMatch) : undefined,
        }),
      );
    } catch (e) {
      if (isMissing(e)) return { status: 'missing' };
      if (isPrecondition(e)) throw new PreconditionFailed(key);
      if (isDenied(e)) return { status: 'denied', reason: why(e) };
      throw this.unavailable('read', key, e);
    }
    const max = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const stream = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
    if ((out.ContentLength ?? 0) > max) {
      stream?.destroy?.();
      return { status: 'too-large', bytes: out.ContentLength! };
    }
    let body: Buffer | { tooLarge: number };
    try {
      body = await readBody(stream, max);
    } catch (e) {
      throw this.unavailable('read', key, e);
    }
    if (!Buffer.isBuffer(body)) return { status: 'too-large', bytes: body.tooLarge };
    return {
      status: 'found',
      object: { body, etag: out.ETag ?? '', metadata: out.Metadata ?? {}, contentType: out.ContentType },
    };
  }

  /**
   * The object's ETag (with quotes), version and metadata, or undefined when there is none; nothing is
   * downloaded. With `versionId`, that version's.
   */
  async head(
    key: string,
    opts: Pick<GetOptions, 'versionId'> = {},
  ): Promise<{ etag: string; versionId?: string; metadata: Readonly<Record<string, string>> } | undefined> {
    try {
      const out = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), VersionId: opts.versionId }),
      );
      return {
        etag: out.ETag ?? '',
        ...(out.VersionId ? { versionId: out.VersionId } : {}),
        metadata: out.Metadata ?? {},
      };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw this.unavailable('read', key, e);
    }
  }

  async getJson<T>(key: string): Promise<{ value: T; etag: string } | undefined> {
    const object = await this.get(key);
    if (!object) return undefined;
    try {
      return { value: JSON.parse(object.body.toString('utf8')) as T, etag: object.etag };
    } catch (cause) {
      throw new NstError('INTERNAL', `${this.uri(key)} is not valid JSON`, { cause });
    }
  }

  /** Writes the object; returns its ETag. */
  async put(key: string, body: Buffer | string, opts: PutOptions = {}): Promise<string> {
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.objectKey(key),
      Body: body,
      ContentType: opts.contentType,
      Metadata: opts.metadata,
      IfNoneMatch: opts.ifNoneMatch,
      IfMatch: opts.ifMatch ? quoteEtag(opts.ifMatch) : undefined,
      Tagging: opts.temporary ? TEMPORARY_TAGGING : undefined,
    };
    try {
      return (await this.client.send(new PutObjectCommand(input))).ETag ?? '';
    } catch (e) {
      if (isPrecondition(e)) throw new PreconditionFailed(key);
      throw this.unavailable('write', key, e);
    }
  }

  putJson(key: string, value: unknown, opts: PutOptions = {}): Promise<string> {
    return this.put(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json', ...opts });
  }

  /** Every key under `prefix`, in S3's (lexicographic) order. */
  async list(prefix: string): Promise<string[]> {
    return (await this.listObjects(prefix)).map((o) => o.key);
  }

  /** Deletes the object (nothing when it does not exist, as S3 does). */
  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (e) {
      throw this.unavailable('delete', key, e);
    }
  }

  /** Every object under `prefix` with its last write time, ETag and size, in S3's (lexicographic) order. */
  async listObjects(prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.objectKey(prefix),
            ContinuationToken: token,
          }),
        );
        for (const o of out.Contents ?? [])
          if (o.Key)
            objects.push({
              key: o.Key.slice(this.keyPrefix.length),
              lastModified: o.LastModified ?? new Date(0),
              etag: o.ETag ?? '',
              size: o.Size ?? 0,
            });
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.unavailable('list', `${prefix}*`, e);
    }
    return objects;
  }

  private unavailable(op: string, key: string, cause: unknown): NstError {
    return new NstError('STORAGE_UNAVAILABLE', `cannot ${op} ${this.uri(key)}: ${why(cause)}`, { cause });
  }
}

const why = (e: unknown): string => (e as SdkError).message || (e as SdkError).name || String(e);

/**
 * The body's chunks as one Buffer: a single chunk as it is, several joined once. Stops (and destroys the
 * stream) as soon as it holds more than `max` bytes, answering how many it saw.
 */
async function readBody(
  stream: (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined,
  max: number,
): Promise<Buffer | { tooLarge: number }> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > max) {
      stream.destroy?.();
      return { tooLarge: total };
    }
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}
