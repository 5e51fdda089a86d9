// The part of s3rver@3.7.1 (no bundled types) that the local server uses.
declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { Server } from 'node:http';

  interface S3rverOptions {
    address?: string;
    port?: number;
    directory?: string;
    silent?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** The filesystem store behind the server (internal API; s3rver is pinned exactly). */
  interface FilesystemStore {
    existsObject(bucket: string, key: string): Promise<boolean>;
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
    getResourcePath(bucket: string, key: string, resource: string): string;
    putObject(object: { content: unknown }): Promise<{ md5: string; size: number }>;
  }

  /** A Koa-style middleware. */
  type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

  export interface KoaContext {
    method: string;
    path: string;
    /** The Host header's name, without the port (Koa). */
    hostname: string;
    query: Record<string, string | string[]>;
    status: number;
    type: string;
    body: unknown;
    req: import('node:http').IncomingMessage;
    get(header: string): string;
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    readonly store: FilesystemStore;
    readonly middleware: Middleware[];
    httpServer?: Server;
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }

  export default S3rver;
}
