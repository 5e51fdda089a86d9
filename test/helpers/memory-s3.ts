/**
 * An in-memory stand-in for the S3 client, for fast unit tests of the pipeline with no S3 server:
 *
 *   const s3 = memoryS3();
 *   const store = new ObjectStore(s3.client, 'bucket');
 *
 * It answers the five commands ObjectStore sends (GetObject, HeadObject, PutObject, DeleteObject,
 * ListObjectsV2) the way the local server (test/helpers/local-s3.ts) and S3 answer them, with the SDK's own
 * error classes; test/unit/storage/memory-s3.test.ts runs the same behaviours through ObjectStore against
 * both. What it models:
 *
 * - Objects per bucket and key (any bucket exists): the body, an MD5 ETag with quotes (as S3's for a single
 *   PUT), user metadata with lower-cased keys, Content-Type (application/octet-stream when none is given,
 *   as the SDK sends it), the tags of `Tagging`, LastModified from the injectable clock (kept to the
 *   millisecond; S3 keeps seconds) and the size.
 * - Conditional writes, atomically: `IfNoneMatch: '*'` fails when the key exists, `IfMatch` when the ETag
 *   differs (quoted or bare, as S3 compares them): 412 PreconditionFailed. `IfMatch` on a missing key
 *   answers 404 NoSuchKey, as S3 and the local server do (not 412). GetObject's `IfMatch` the same way.
 * - Missing objects: GetObject 404 NoSuchKey, HeadObject 404 NotFound, DeleteObject succeeds.
 * - ListObjectsV2: Prefix, StartAfter, lexicographic (UTF-8 byte) order, pages of MaxKeys (at most 1000,
 *   or `maxKeys` of the options, so paging code runs with a few objects) with opaque continuation tokens.
 *
 * What it does not: versions (a VersionId is ignored, HeadObject answers none: an
 * unversioned bucket), ranges, delimiters and other request fields (sending them throws, so a test never
 * passes on a silently ignored field), IAM, and the SDK's middleware: no retries, so an injected 503 reaches
 * the caller at once where a real client would retry it first. Any other command throws.
 *
 * For tests: objects(), keys() and object() show what was written; calls() is every request in order and
 * writes() the writes that took effect (to assert their order); failNext() makes the next requests of a
 * command fail, before they take effect or after (the write lands, the answer is lost).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  type DeleteObjectCommandOutput,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Error } from './s3-faults.js';

/** The commands the stand-in answers, by their S3 operation name. */
export type MemoryS3Command = 'GetObject' | 'HeadObject' | 'PutObject' | 'DeleteObject' | 'ListObjectsV2';

export interface MemoryS3Options {
  /** The time of each write, for LastModified (default Date.now, which fake timers control). */
  readonly now?: () => Date | number;
  /** The largest page ListObjectsV2 answers (default and at most 1000, as S3). */
  readonly maxKeys?: number;
}

/** One stored object, as a copy. */
export interface MemoryObject {
  readonly bucket: string;
  readonly key: string;
  readonly body: Buffer;
  /** With quotes, as S3 returns it. */
  readonly etag: string;
  /** User metadata, keys lower-cased. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly contentType: string;
  /** From PutObject's `Tagging`. */
  readonly tags: Readonly<Record<string, string>>;
  readonly lastModified: Date;
  readonly size: number;
}

/** One request, in the order they arrived. */
export interface MemoryS3Call {
  readonly command: MemoryS3Command;
  readonly bucket: string;
  /** The key, or ListObjectsV2's prefix. */
  readonly key: string;
  /** The name of the error it answered (an injected one included), when it failed. */
  readonly error?: string;
}

/** A write that took effect. */
export interface MemoryS3Write {
  readonly command: 'PutObject' | 'DeleteObject';
  readonly bucket: string;
  readonly key: string;
}

export interface FailOptions {
  /** How many matching requests fail (default 1). */
  readonly times?: number;
  /** What they throw (default a 503 ServiceUnavailable); a function makes a fresh error each time. */
  readonly error?: Error | (() => Error);
  /** Only requests for this key (ListObjectsV2: its prefix); default any. */
  readonly key?: string | RegExp | ((key: string) => boolean);
  /** The request takes effect and then fails (a write lands but its answer is lost); default before. */
  readonly after?: boolean;
}

export interface MemoryS3 {
  /** Only `send` (and a no-op `destroy`) exist: what ObjectStore and the pipeline call on a client. */
  readonly client: S3Client;
  /** Every object (of `bucket`, or of all buckets), by bucket then key. */
  objects(bucket?: string): MemoryObject[];
  /** The keys under `prefix` (of `bucket`, or of all buckets), in S3's order. */
  keys(prefix?: string, bucket?: string): string[];
  /** The object at `key` (in `bucket`, or in the one bucket that has it). */
  object(key: string, bucket?: string): MemoryObject | undefined;
  /** Every request so far, in order, failed ones included. */
  calls(): MemoryS3Call[];
  /** The PutObject and DeleteObject requests that took effect, in order. */
  writes(): MemoryS3Write[];
  /** The next matching requests of `command` fail; rules apply in the order they were added. */
  failNext(command: MemoryS3Command, opts?: FailOptions): void;
}

interface Entry {
  readonly body: Buffer;
  readonly etag: string;
  readonly metadata: Record<string, string>;
  readonly contentType: string;
  readonly tags: Record<string, string>;
  readonly lastModified: Date;
}

interface FailRule {
  readonly command: MemoryS3Command;
  left: number;
  readonly error: () => Error;
  readonly matches: (key: string) => boolean;
  readonly after: boolean;
}

type PutBody = NonNullable<PutObjectCommandInput['Body']>;
type GetBody = Readable & {
  transformToByteArray(): Promise<Uint8Array>;
  transformToString(encoding?: BufferEncoding): Promise<string>;
  transformToWebStream(): ReadableStream;
};
type GetOutput = Omit<GetObjectCommandOutput, 'Body'> & { Body: GetBody };

/**
 * The commands answered, and the request fields each one models; any other field set throws, so a test
 * never passes on a field the stand-in silently ignored. GetObject's and HeadObject's VersionId are accepted
 * and ignored.
 */
const MODELLED: readonly [new (...args: never[]) => object, MemoryS3Command, readonly string[]][] = [
  [GetObjectCommand, 'GetObject', ['Bucket', 'Key', 'IfMatch', 'VersionId']],
  [HeadObjectCommand, 'HeadObject', ['Bucket', 'Key', 'VersionId']],
  [
    PutObjectCommand,
    'PutObject',
    ['Bucket', 'Key', 'Body', 'ContentType', 'Metadata', 'IfNoneMatch', 'IfMatch', 'Tagging'],
  ],
  [DeleteObjectCommand, 'DeleteObject', ['Bucket', 'Key']],
  [ListObjectsV2Command, 'ListObjectsV2', ['Bucket', 'Prefix', 'MaxKeys', 'ContinuationToken', 'StartAfter']],
];

const S3_MAX_KEYS = 1000;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const OK = { httpStatusCode: 200, attempts: 1, totalRetryDelay: 0 } as const;
const PRECONDITION_MESSAGE = 'At least one of the pre-conditions you specified did not hold';

const unquote = (etag: string) => etag.replace(/^W\//, '').replace(/"/g, '');
/** S3 orders keys by their UTF-8 bytes, which is not JavaScript's UTF-16 order beyond the BMP. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const noSuchKey = () =>
  new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });
// A HEAD answer has no body, so the SDK knows only the status.
const notFound = () => new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' });
const preconditionFailed = () => s3Error('PreconditionFailed', 412, PRECONDITION_MESSAGE);
const serviceUnavailable = () => s3Error('ServiceUnavailable', 503, 'Service is unable to handle request.');

export function memoryS3(opts: MemoryS3Options = {}): MemoryS3 {
  const clock = opts.now ?? Date.now;
  const pageLimit = Math.min(opts.maxKeys ?? S3_MAX_KEYS, S3_MAX_KEYS);
  if (!(pageLimit >= 1)) throw new RangeError(`maxKeys must be at least 1, not ${opts.maxKeys}`);
  const buckets = new Map<string, Map<string, Entry>>();
  const log: MemoryS3Call[] = [];
  const written: MemoryS3Write[] = [];
  const rules: FailRule[] = [];

  /** The bucket's objects; a write makes the bucket, a read leaves no trace. */
  const bucketOf = (name: string, write = false): Map<string, Entry> => {
    const bucket = buckets.get(name) ?? new Map<string, Entry>();
    if (write) buckets.set(name, bucket);
    return bucket;
  };
  const sortedKeys = (bucket: Map<string, Entry>) => [...bucket.keys()].sort(byBytes);
  const copy = (bucket: string, key: string, e: Entry): MemoryObject => ({
    bucket,
    key,
    body: Buffer.from(e.body),
    etag: e.etag,
    metadata: { ...e.metadata },
    contentType: e.contentType,
    tags: { ...e.tags },
    lastModified: new Date(e.lastModified),
    size: e.body.length,
  });

  const getObject = (input: GetObjectCommand['input']): GetOutput => {
    const entry = bucketOf(input.Bucket!).get(input.Key!);
    if (!entry) throw noSuchKey();
    if (input.IfMatch !== undefined && unquote(input.IfMatch) !== unquote(entry.etag))
      throw preconditionFailed();
    return {
      $metadata: OK,
      Body: bodyStream(entry.body),
      AcceptRanges: 'bytes',
      ContentLength: entry.body.length,
      ContentType: entry.contentType,
      ETag: entry.etag,
      LastModified: new Date(entry.lastModified),
      Metadata: { ...entry.metadata },
    };
  };

  const headObject = (input: HeadObjectCommand['input']): HeadObjectCommandOutput => {
    const entry = bucketOf(input.Bucket!).get(input.Key!);
    if (!entry) throw notFound();
    return {
      $metadata: OK,
      AcceptRanges: 'bytes',
      ContentLength: entry.body.length,
      ContentType: entry.contentType,
      ETag: entry.etag,
      LastModified: new Date(entry.lastModified),
      Metadata: { ...entry.metadata },
    };
  };

  const putObject = (input: PutObjectCommand['input'], body: Buffer): PutObjectCommandOutput => {
    const bucket = bucketOf(input.Bucket!, true);
    const existing = bucket.get(input.Key!);
    if (input.IfMatch !== undefined) {
      if (!existing) throw noSuchKey();
      if (unquote(input.IfMatch) !== unquote(existing.etag)) throw preconditionFailed();
    }
    if (input.IfNoneMatch !== undefined) {
      if (input.IfNoneMatch !== '*')
        throw s3Error('NotImplemented', 501, 'If-None-Match on PutObject takes only "*"');
      if (existing) throw preconditionFailed();
    }
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    bucket.set(input.Key!, {
      body,
      etag,
      metadata: Object.fromEntries(
        Object.entries(input.Metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      contentType: input.ContentType ?? DEFAULT_CONTENT_TYPE,
      tags: Object.fromEntries(new URLSearchParams(input.Tagging ?? '')),
      lastModified: new Date(clock()),
    });
    return { $metadata: OK, ETag: etag };
  };

  const deleteObject = (input: DeleteObjectCommand['input']): DeleteObjectCommandOutput => {
    bucketOf(input.Bucket!).delete(input.Key!);
    return { $metadata: { ...OK, httpStatusCode: 204 } };
  };

  const listObjects = (input: ListObjectsV2Command['input']): ListObjectsV2CommandOutput => {
    const prefix = input.Prefix ?? '';
    const maxKeys = Math.min(input.MaxKeys ?? S3_MAX_KEYS, pageLimit);
    if (maxKeys < 0) throw s3Error('InvalidArgument', 400, 'maxKeys must be at least 0');
    let after = input.StartAfter ?? '';
    if (input.ContinuationToken !== undefined) {
      const decoded = decodeToken(input.ContinuationToken);
      if (decoded === undefined)
        throw s3Error('InvalidArgument', 400, 'The continuation token provided is incorrect');
      after = decoded;
    }
    const bucket = bucketOf(input.Bucket!);
    const matching = sortedKeys(bucket).filter((k) => k.startsWith(prefix) && byBytes(k, after) > 0);
    const page = matching.slice(0, maxKeys);
    // MaxKeys 0 answers an empty page that is not truncated (there is no last key to go on from).
    const truncated = page.length > 0 && matching.length > page.length;
    return {
      $metadata: OK,
      Name: input.Bucket,
      Prefix: prefix,
      MaxKeys: input.MaxKeys ?? S3_MAX_KEYS,
      KeyCount: page.length,
      IsTruncated: truncated,
      ...(input.StartAfter !== undefined ? { StartAfter: input.StartAfter } : {}),
      ...(input.ContinuationToken !== undefined ? { ContinuationToken: input.ContinuationToken } : {}),
      ...(truncated ? { NextContinuationToken: encodeToken(page[page.length - 1]) } : {}),
      // S3 leaves Contents out of an empty page.
      ...(page.length > 0
        ? {
            Contents: page.map((key) => {
              const e = bucket.get(key)!;
              return {
                Key: key,
                LastModified: new Date(e.lastModified),
                ETag: e.etag,
                Size: e.body.length,
                StorageClass: 'STANDARD' as const,
              };
            }),
          }
        : {}),
    };
  };

  /** The request's command, bucket and key, and what answers it once its body (if any) is read. */
  const dispatch = async (
    command: unknown,
  ): Promise<{ call: Omit<MemoryS3Call, 'error'>; run: () => unknown }> => {
    const modelled = MODELLED.find(([type]) => command instanceof type);
    if (!modelled) {
      const name = (command as { constructor?: { name?: string } } | null)?.constructor?.name;
      throw new TypeError(`memoryS3 does not answer ${name ?? typeof command}`);
    }
    const [, operation, fields] = modelled;
    const unmodelled = Object.entries((command as { input: object }).input)
      .filter(([field, value]) => value !== undefined && !fields.includes(field))
      .map(([field]) => field);
    if (unmodelled.length > 0)
      throw new TypeError(`memoryS3 does not model ${operation}'s ${unmodelled.join(', ')}`);
    if (command instanceof GetObjectCommand) {
      const { input } = command;
      return {
        call: { command: 'GetObject', bucket: input.Bucket!, key: input.Key! },
        run: () => getObject(input),
      };
    }
    if (command instanceof HeadObjectCommand) {
      const { input } = command;
      return {
        call: { command: 'HeadObject', bucket: input.Bucket!, key: input.Key! },
        run: () => headObject(input),
      };
    }
    if (command instanceof PutObjectCommand) {
      const { input } = command;
      const body = await bytesOf(input.Body);
      return {
        call: { command: 'PutObject', bucket: input.Bucket!, key: input.Key! },
        run: () => putObject(input, body),
      };
    }
    if (command instanceof DeleteObjectCommand) {
      const { input } = command;
      return {
        call: { command: 'DeleteObject', bucket: input.Bucket!, key: input.Key! },
        run: () => deleteObject(input),
      };
    }
    if (command instanceof ListObjectsV2Command) {
      const { input } = command;
      return {
        call: { command: 'ListObjectsV2', bucket: input.Bucket!, key: input.Prefix ?? '' },
        run: () => listObjects(input),
      };
    }
    throw new TypeError(`memoryS3 has no handler for ${operation}`);
  };

  const injected = (call: Omit<MemoryS3Call, 'error'>): FailRule | undefined => {
    const rule = rules.find((r) => r.left > 0 && r.command === call.command && r.matches(call.key));
    if (rule) rule.left--;
    return rule;
  };

  const send = async (command: unknown): Promise<unknown> => {
    const { call, run } = await dispatch(command);
    // A request is in flight for a moment (a microtask, which fake timers leave alone): the caller's code
    // after send() runs first, as it would with a server.
    await Promise.resolve();
    const rule = injected(call);
    try {
      if (rule && !rule.after) throw rule.error();
      const out = run();
      if (call.command === 'PutObject' || call.command === 'DeleteObject')
        written.push({ command: call.command, bucket: call.bucket, key: call.key });
      if (rule) throw rule.error();
      log.push(call);
      return out;
    } catch (e) {
      log.push({ ...call, error: (e as Error).name });
      throw e;
    }
  };

  // Cast once: ObjectStore and the pipeline only call send() (and destroy() when closing a client), so the
  // stand-in has those two, not the SDK client's configuration and middleware stack.
  const client = { send, destroy: () => {} } as unknown as S3Client;

  const all = (bucket?: string): MemoryObject[] =>
    [...buckets.entries()]
      .filter(([name]) => bucket === undefined || name === bucket)
      .sort(([a], [b]) => byBytes(a, b))
      .flatMap(([name, entries]) => sortedKeys(entries).map((key) => copy(name, key, entries.get(key)!)));

  return {
    client,
    objects: all,
    keys: (prefix = '', bucket) =>
      all(bucket)
        .map((o) => o.key)
        .filter((k) => k.startsWith(prefix)),
    object(key, bucket) {
      const found = all(bucket).filter((o) => o.key === key);
      if (found.length > 1)
        throw new Error(`${key} is in buckets ${found.map((o) => o.bucket).join(', ')}: name one`);
      return found[0];
    },
    calls: () => [...log],
    writes: () => [...written],
    failNext(command, fail = {}) {
      const { key, error = serviceUnavailable } = fail;
      const times = fail.times ?? 1;
      if (!(Number.isInteger(times) && times >= 1))
        throw new RangeError(`times must be at least 1: ${times}`);
      rules.push({
        command,
        left: times,
        error: typeof error === 'function' ? error : () => error,
        matches:
          key === undefined
            ? () => true
            : typeof key === 'string'
              ? (k) => k === key
              : key instanceof RegExp
                ? (k) => key.test(k)
                : key,
        after: fail.after ?? false,
      });
    },
  };
}

/** A PutObject body as bytes (a copy: the caller may reuse its buffer). */
async function bytesOf(body: PutBody | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  if (Symbol.asyncIterator in body) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    return Buffer.concat(chunks);
  }
  throw new TypeError('memoryS3 takes a PutObject Body of string, Uint8Array, Blob or a Node.js stream');
}

/** GetObject's Body: a stream of one chunk (a copy), with the SDK's transform helpers. */
function bodyStream(body: Buffer): GetBody {
  const bytes = Buffer.from(body);
  const stream = Readable.from([bytes]);
  return Object.assign(stream, {
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToString: async (encoding: BufferEncoding = 'utf8') => bytes.toString(encoding),
    transformToWebStream: () => Readable.toWeb(stream) as ReadableStream,
  });
}

const TOKEN_PREFIX = 'memory-s3:';
const encodeToken = (lastKey: string) => Buffer.from(TOKEN_PREFIX + lastKey, 'utf8').toString('base64');
function decodeToken(token: string): string | undefined {
  const text = Buffer.from(token, 'base64').toString('utf8');
  return text.startsWith(TOKEN_PREFIX) ? text.slice(TOKEN_PREFIX.length) : undefined;
}
