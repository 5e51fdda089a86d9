/**
 * S3 answers the local server cannot give (it has no IAM): a middleware on the real client that fails
 * chosen GetObject requests the way S3 does, before they leave the process.
 */
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/storage/local-s3.js';

/** An S3 error response as the SDK surfaces it. */
export const s3Error = (name: string, status: number, message: string): S3ServiceException =>
  new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message });

let installed = 0;

/** Every GetObject whose key matches fails with `error` (default: 403 AccessDenied, as IAM answers). */
export function failReads(
  client: LocalS3['client'],
  matches: (key: string) => boolean,
  error: () => Error = () => s3Error('AccessDenied', 403, 'Access Denied'),
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: string }).Key ?? '';
      if (context.commandName === 'GetObjectCommand' && matches(key)) throw error();
      return next(args);
    },
    { step: 'initialize', name: `nstFailReads${++installed}` },
  );
}
