/**
 * S3 clients: the SDK's own configuration (AWS, or any S3-compatible server named by the SDK's standard
 * endpoint variables), or the embedded local server (s3rver) with the settings it needs.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { configuredEndpoint, type Env } from './s3-endpoint.js';

/** s3rver accepts any request signed with this key pair. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

/**
 * A client from the SDK's configuration (credential chain, region), with the endpoint variables read from
 * `env` (the handlers' environment; the SDK itself reads process.env). Where an endpoint variable points at
 * an S3-compatible server (LocalStack, MinIO, `nst serve`), addressing is path-style: virtual-host style
 * would need a DNS name per bucket, which such servers rarely have. (So an endpoint variable is not for
 * AWS's own regional or FIPS endpoints with directory buckets, which take virtual-host style only; an
 * `endpoint_url` in the shared config file is left to the SDK, with its default addressing.)
 */
export function createSdkS3Client(env: Env = process.env, settings: S3ClientSettings = {}): S3Client {
  const endpoint = configuredEndpoint(env);
  return new S3Client({ ...(endpoint ? { endpoint, forcePathStyle: true } : {}), ...settings });
}

/** What a caller may set on top of the SDK's configuration. */
export type S3ClientSettings = Pick<S3ClientConfig, 'requestChecksumCalculation'>;

/**
 * For presigning uploads: a client that adds a checksum to every request (the SDK's default) signs the
 * CRC32 of the empty body into a presigned PUT's URL, and S3 refuses every real upload to it.
 */
export const PRESIGNING_SETTINGS: S3ClientSettings = { requestChecksumCalculation: 'WHEN_REQUIRED' };

/** A client for the embedded local S3 server at `endpoint` (`nst serve`, tests). */
export function createS3Client(opts: { endpoint: string; region?: string }): S3Client {
  return new S3Client({
    endpoint: opts.endpoint,
    region: opts.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    // s3rver stores an aws-chunked (checksummed, streamed) PutObject body as is, silently corrupt:
    // only send checksums where the operation requires one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
