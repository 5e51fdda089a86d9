/** S3 clients: the default chain in AWS, or the embedded local server (s3rver) with the settings it needs. */
import { S3Client } from '@aws-sdk/client-s3';

/** s3rver accepts any request signed with this key pair. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const LOCAL_REGION = 'us-east-1';

/** A client for `endpoint` (a local S3 server), or for AWS when no endpoint is given. */
export function createS3Client(opts: { endpoint?: string; region?: string } = {}): S3Client {
  if (!opts.endpoint) return new S3Client(opts.region ? { region: opts.region } : {});
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
