/**
 * A real local S3 server for tests: s3rver over HTTP on 127.0.0.1 (any free port, its own temp data
 * folder) with the real S3 client, and the S3 events it sends for the trigger prefixes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { TRIGGER_PREFIXES } from '../../src/jobs/spec/keys.js';
import { type LocalS3, startLocalS3 } from '../../src/storage/local-s3.js';
import { ObjectStore } from '../../src/storage/object-store.js';

export const BUCKET = 'nst-test';

export interface S3Harness {
  readonly s3: LocalS3;
  /** The bucket as the pipeline sees it: keys relative to the key prefix. */
  readonly store: ObjectStore;
  readonly dataDir: string;
  /** Uploads an object (a key under the prefix) and returns the S3 event the server sent for it (trigger prefixes only). */
  upload(key: string, body: Buffer | string, metadata?: Record<string, string>): Promise<S3Event>;
  /** Every key under outputs/<jobId>/. */
  outputs(jobId: string): Promise<string[]>;
  close(): Promise<void>;
}

/** The server, with the pipeline's folders under `keyPrefix` (default: the bucket's top). */
export async function startS3({ keyPrefix = '' }: { keyPrefix?: string } = {}): Promise<S3Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nst-s3-'));
  const eventPrefixes = TRIGGER_PREFIXES.map((p) => `${keyPrefix}${p}`);
  const s3 = await startLocalS3({ dataDir, bucket: BUCKET, eventPrefixes });
  const store = new ObjectStore(s3.client, BUCKET, keyPrefix);
  const events: S3Event[] = [];
  s3.onObjectCreated((event) => events.push(event));
  let closed = false;
  return {
    s3,
    store,
    dataDir,
    async upload(key, body, metadata) {
      const before = events.length;
      await store.put(key, body, { metadata });
      const event = events.slice(before).find((e) => e.Records.length > 0);
      if (!event) throw new Error(`no event for ${key}`);
      return event;
    },
    outputs: (jobId) => store.list(`outputs/${jobId}/`),
    async close() {
      if (!closed) await s3.close().catch(() => {});
      closed = true;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Parses JSON from an object in the bucket. */
export async function readJson<T = Record<string, unknown>>(store: ObjectStore, key: string): Promise<T> {
  const object = await store.get(key);
  if (!object) throw new Error(`${key} does not exist`);
  return JSON.parse(object.body.toString('utf8')) as T;
}
