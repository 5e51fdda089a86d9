/**
 * The embedded S3 server of the local mode: s3rver on 127.0.0.1 (loopback only) with a data folder,
 * behind a gate (local-s3-guard.ts: SigV4 signatures with the local credentials, no form POSTs, no keys
 * that leave the data folder), plus the two things the pipeline relies on that s3rver lacks:
 *
 * - S3's consistency and conditional writes. s3rver ignores If-None-Match / If-Match on PutObject (and
 *   If-Match on GetObject), reads can overlap writes of the same key, and a broken-off upload leaves a torn
 *   object. A middleware in front of its Koa app serialises requests per key inside this process (the only
 *   writer of the data folder), checks the preconditions the way S3 does (412 PreconditionFailed), and
 *   lets a read finish before the next write; uploads are buffered so they land whole or not at all.
 *   So the job lock uses the same conditional PutObject here as on real S3.
 * - S3 event shapes. s3rver emits events for every key with raw keys and eventVersion 2.0; here they become
 *   ObjectCreated records as S3 sends them (form-URL-encoded keys, eventVersion 2.1, the bucket's ARN),
 *   filtered by key prefix like a bucket notification.
 */
import { stat } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import S3rver, { type KoaContext } from 's3rver';
import { NstError } from '../errors.js';
import { encodeEventKey } from './event-keys.js';
import { checkRequest } from './local-s3-guard.js';
import { pagedListings } from './local-s3-listing.js';
import { createS3Client, LOCAL_REGION } from './s3-client.js';

export interface LocalS3Options {
  readonly dataDir: string;
  readonly bucket: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  /** A loopback address (default 127.0.0.1); the server never listens on other interfaces. */
  readonly host?: string;
  /** Only keys under these prefixes produce events (like a bucket notification's filters); default all. */
  readonly eventPrefixes?: readonly string[];
}

export interface LocalS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** A client configured for this server. */
  readonly client: S3Client;
  /** Subscribes to ObjectCreated events in S3's shape; returns the unsubscribe function. */
  onObjectCreated(listener: (event: S3Event) => void): () => void;
  close(): Promise<void>;
}

/** What s3rver emits (its own, older event shape). */
interface S3rverEvent {
  readonly Records: readonly {
    readonly eventName: string;
    readonly eventTime: string;
    readonly s3: {
      readonly bucket: { readonly name: string };
      readonly object: {
        readonly key: string;
        readonly size?: number;
        readonly eTag?: string;
        readonly sequencer: string;
      };
    };
  }[];
}

export async function startLocalS3(opts: LocalS3Options): Promise<LocalS3> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new NstError('INVALID_OPTION', `the local S3 server listens on loopback only, not on ${host}`);
  }
  const server = new S3rver({
    address: host,
    port: opts.port ?? 0,
    directory: opts.dataDir,
    silent: true,
    vhostBuckets: false,
    configureBuckets: [{ name: opts.bucket }],
  });
  // Just before s3rver's router (its last middleware), inside its XML serializer: see local-s3-listing.ts.
  server.middleware.splice(server.middleware.length - 1, 0, pagedListings());
  server.middleware.unshift(consistentRequests(server));
  server.middleware.unshift(guard(opts));
  bufferUploads(server);
  const { port } = await server.run();
  const endpoint = `http://${host}:${port}`;
  const client = createS3Client({ endpoint });

  return {
    endpoint,
    port,
    bucket: opts.bucket,
    client,
    onObjectCreated: (listener) => subscribe(server, listener, opts.eventPrefixes),
    close: () => closeServer(server, client),
  };
}

const isLoopback = (host: string) => /^127(\.\d{1,3}){3}$/.test(host) || ['::1', 'localhost'].includes(host);

/** Refuses what checkRequest() refuses before s3rver sees the request (nothing is read or written). */
function guard(opts: LocalS3Options) {
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const refusal = await checkRequest(ctx, opts);
    if (refusal) return fail(ctx, refusal.status, refusal.code, refusal.message);
    return next();
  };
}

/** Passes on s3rver's ObjectCreated events under `prefixes` in S3's shape; returns the unsubscribe. */
function subscribe(
  server: S3rver,
  listener: (event: S3Event) => void,
  prefixes: readonly string[] | undefined,
): () => void {
  const onEvent = (event: S3rverEvent) => {
    const records = event.Records.filter(
      (r) =>
        r.eventName.startsWith('ObjectCreated:') &&
        (!prefixes || prefixes.some((p) => r.s3.object.key.startsWith(p))),
    ).map(toS3Record);
    if (records.length > 0) listener({ Records: records });
  };
  server.on('event', onEvent);
  return () => server.off('event', onEvent);
}

/** Stops accepting requests; requests in flight complete (s3rver's writes are not atomic). */
async function closeServer(server: S3rver, client: S3Client): Promise<void> {
  const closing = server.close();
  // Keep-alive connections stay open while clients reuse them: close each as soon as it is idle.
  const reaper = setInterval(() => server.httpServer?.closeIdleConnections(), 10);
  server.httpServer?.closeIdleConnections();
  try {
    await closing;
  } finally {
    clearInterval(reaper);
    client.destroy();
  }
}

function toS3Record(r: S3rverEvent['Records'][number]): S3EventRecord {
  return objectCreatedRecord(r.s3.bucket.name, {
    key: r.s3.object.key,
    size: r.s3.object.size ?? 0,
    eTag: r.s3.object.eTag ?? '',
    sequencer: r.s3.object.sequencer,
    eventName: r.eventName,
    eventTime: r.eventTime,
  });
}

/** A real S3 ObjectCreated record (URL-encoded key) for an object of the local bucket. */
export function objectCreatedRecord(
  bucket: string,
  object: {
    readonly key: string;
    readonly size: number;
    readonly eTag: string;
    readonly sequencer: string;
    readonly eventName?: string;
    readonly eventTime?: string;
  },
): S3EventRecord {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: LOCAL_REGION,
    eventTime: object.eventTime ?? new Date().toISOString(),
    eventName: object.eventName ?? 'ObjectCreated:Put',
    userIdentity: { principalId: 'local' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': object.sequencer, 'x-amz-id-2': 'local' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'nst-local',
      bucket: { name: bucket, ownerIdentity: { principalId: 'local' }, arn: `arn:aws:s3:::${bucket}` },
      object: {
        key: encodeEventKey(object.key),
        size: object.size,
        eTag: object.eTag,
        sequencer: object.sequencer,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Per-key consistency and conditional requests (see the file comment).

/** Query parameters of plain object reads and writes (the SDK adds x-id); others are sub-resources. */
const PLAIN_QUERY = new Set(['x-id', 'versionId']);

const unquote = (etag: string) => etag.replace(/^W\//, '').replace(/"/g, '');

function objectOf(ctx: KoaContext): { bucket: string; key: string } | undefined {
  if (!['GET', 'HEAD', 'PUT', 'DELETE'].includes(ctx.method)) return undefined;
  if (Object.keys(ctx.query).some((q) => !PLAIN_QUERY.has(q)) || ctx.get('x-amz-copy-source'))
    return undefined;
  const [, bucket, ...rest] = ctx.path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  return bucket && key ? { bucket, key } : undefined;
}

function fail(ctx: KoaContext, status: number, code: string, message: string): void {
  ctx.req.resume(); // drain an unread request body
  ctx.status = status;
  ctx.type = 'application/xml';
  const text = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${text}</Message></Error>`;
}

function consistentRequests(server: S3rver) {
  const tails = new Map<string, Promise<void>>();
  /** Runs `task` after every earlier task on the same key. */
  const serialised = async (id: string, task: () => Promise<void>) => {
    const previous = tails.get(id) ?? Promise.resolve();
    const run = previous.then(task);
    const tail = run.catch(() => {});
    tails.set(id, tail);
    try {
      await run;
    } finally {
      if (tails.get(id) === tail) tails.delete(id);
    }
  };

  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const object = objectOf(ctx);
    if (!object) return next();
    const { bucket, key } = object;
    await serialised(`${bucket}/${key}`, async () => {
      const ifMatch = ctx.get('if-match');
      const ifNoneMatch = ctx.get('if-none-match');
      if (ifMatch || (ctx.method === 'PUT' && ifNoneMatch)) {
        const exists = await server.store.existsObject(bucket, key);
        const etag = exists ? (await server.store.getMetadata(bucket, key)).etag : undefined;
        if (ifMatch && etag === undefined)
          return fail(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
        if ((ifMatch && unquote(ifMatch) !== unquote(etag!)) || (ifNoneMatch === '*' && exists)) {
          return fail(
            ctx,
            412,
            'PreconditionFailed',
            'At least one of the pre-conditions you specified did not hold',
          );
        }
      }
      await next();
      if (ctx.method === 'PUT' && ctx.status === 200)
        await flushed(server, bucket, key, Number(ctx.get('content-length')));
      // Read the whole body while holding the key, so a later write cannot truncate it mid-stream.
      if (ctx.method === 'GET' && isStream(ctx.body)) ctx.body = await readAll(ctx.body);
    });
  };
}

/**
 * s3rver truncates the object file and then streams the request body into it, so an upload that breaks
 * off leaves a torn object, which S3 never shows. Reading the whole body before the store opens the file
 * makes an upload all or nothing.
 */
function bufferUploads(server: S3rver): void {
  const putObject = server.store.putObject.bind(server.store);
  server.store.putObject = async (object) => {
    if (isStream(object.content)) object.content = await readAll(object.content);
    return putObject(object);
  };
}

/** s3rver answers a PutObject before its file write has finished; wait until the file is complete. */
async function flushed(server: S3rver, bucket: string, key: string, length: number): Promise<void> {
  if (!Number.isFinite(length)) return;
  const file = server.store.getResourcePath(bucket, key, 'object');
  for (let i = 0; i < 200; i++) {
    if ((await stat(file).catch(() => undefined))?.size === length) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const isStream = (body: unknown): body is NodeJS.ReadableStream =>
  typeof (body as NodeJS.ReadableStream | undefined)?.pipe === 'function';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
