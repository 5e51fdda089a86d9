/**
 * One bucket as the pipeline sees it: get, put (optionally conditional), list. Every S3 failure comes out
 * classified, because the pipeline's retry policy depends on it: a missing object is `undefined`, a failed
 * precondition is a `PreconditionFailed`, and anything else (network, throttling, 5xx, access) is a
 * transient NstError so the platform retries the invocation.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { NstError } from '../errors.js';

/** The object tag the bucket's lifecycle rule expires (frames, checkpoints). */
export const TEMPORARY_TAG = { key: 'nst-temporary', value: 'true' } as const;
const TEMPORARY_TAGGING = `${TEMPORARY_TAG.key}=${TEMPORARY_TAG.value}`;

export interface StoredObject {
  readonly body: Buffer;
  /** As S3 returns it, with quotes. */
  readonly etag: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType?: string;
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
const isMissing = (e: unknown) =>
  status(e) === 404 || ['NoSuchKey', 'NotFound'].includes((e as SdkError).name ?? '');
// S3 answers 409 ConditionalRequestConflict when two conditional writes race.
const isPrecondition = (e: unknown) =>
  status(e) === 412 ||
  ['PreconditionFailed', 'ConditionalRequestConflict'].includes((e as SdkError).name ?? '');

const quoteEtag = (etag: string): string => (etag.startsWith('"') ? etag : `"${etag}"`);

export class ObjectStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** The object, or undefined when there is none. */
  async get(key: string, opts: GetOptions = {}): Promise<StoredObject | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          VersionId: opts.versionId,
          IfMatch: opts.ifMatch ? quoteEtag(opts.ifMatch) : undefined,
        }),
      );
      const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      return { body, etag: out.ETag ?? '', metadata: out.Metadata ?? {}, contentType: out.ContentType };
    } catch (e) {
      if (isMissing(e)) return undefined;
      if (isPrecondition(e)) throw new PreconditionFailed(key);
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
      Key: key,
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

  /** Every object under `prefix` with its last write time, in S3's (lexicographic) order. */
  async listObjects(prefix: string): Promise<{ key: string; lastModified: Date }[]> {
    const objects: { key: string; lastModified: Date }[] = [];
    let token: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of out.Contents ?? [])
          if (o.Key) objects.push({ key: o.Key, lastModified: o.LastModified ?? new Date(0) });
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw this.unavailable('list', `${prefix}*`, e);
    }
    return objects;
  }

  private unavailable(op: string, key: string, cause: unknown): NstError {
    const why = (cause as SdkError).message || (cause as SdkError).name || String(cause);
    return new NstError('STORAGE_UNAVAILABLE', `cannot ${op} ${this.uri(key)}: ${why}`, { cause });
  }
}
