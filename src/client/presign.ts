/**
 * Presigned uploads, for clients without AWS credentials (a web page, a phone): whoever holds credentials
 * (a backend, `nst submit --presign`) signs a PUT of one drop-in and hands the client its URL, the headers
 * to send with it, and the job id the upload will have. The options and the job id travel as signed
 * x-amz-meta-nst-* headers, so the client can change neither; the pipeline takes the job id from the
 * upload's metadata (jobs/spec/job-id.ts, uploadJobId). Nothing is deployed for it: S3 checks the signature.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NstError } from '../errors.js';
import { outputKeys } from '../jobs/spec/keys.js';
import type { ObjectStore } from '../storage/object-store.js';
import { DEFAULT_PRESIGN_SECONDS, MAX_PRESIGN_SECONDS } from '../storage/presign-limits.js';
import { PRESIGNING_SETTINGS } from '../storage/s3-client.js';
import { dropInFor, optionsMetadata, type SubmitRequest, styleInBucket } from './submit.js';

export interface PresignRequest extends Omit<SubmitRequest, 'style'> {
  /**
   * The photo's file name: its key is inputs/<style>/<job id><extension>, the job id starting with the
   * name. The file itself stays with the client.
   */
  readonly content: string;
  /** A style already in the bucket (styles/<name>.*). */
  readonly style: string;
  /** Seconds the URL works (default DEFAULT_PRESIGN_SECONDS, at most MAX_PRESIGN_SECONDS). */
  readonly expiresInSeconds?: number;
}

export interface PresignedUpload {
  /** PUT the photo's bytes here, with `headers`, before `expiresAt`. */
  readonly url: string;
  readonly method: 'PUT';
  /** Signed headers the PUT must carry as they are (the options and the job id). */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: string;
  /** The photo's key in the bucket (the whole key, with the pipeline's prefix). */
  readonly key: string;
  /** The job the upload starts. */
  readonly jobId: string;
  /** Its job.json's key in the bucket (the whole key): the job's status, once it has begun. */
  readonly statusKey: string;
}

export async function presignDropIn(
  store: ObjectStore,
  request: PresignRequest,
  now: () => Date = () => new Date(),
): Promise<PresignedUpload> {
  const expiresIn = request.expiresInSeconds ?? DEFAULT_PRESIGN_SECONDS;
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) {
    throw new NstError(
      'INVALID_OPTION',
      `a presigned URL works 1 to ${MAX_PRESIGN_SECONDS} seconds (7 days), got ${request.expiresInSeconds}`,
    );
  }
  await refuseChecksummingClient(store);
  await styleInBucket(store, request.style, 'upload the painting first (nst submit --style painting.jpg)');
  const options = optionsMetadata(request.options ?? {}, request.output);
  const { key, jobId, metadata } = dropInFor(request.style, request.content, options);
  const headers = Object.fromEntries(
    Object.entries(metadata).map(([name, value]) => [`x-amz-meta-${name}`, value]),
  );
  const url = await getSignedUrl(
    store.client,
    new PutObjectCommand({ Bucket: store.bucket, Key: store.objectKey(key), Metadata: metadata }),
    // Headers, not query parameters: the signature covers them, so the upload carries exactly these.
    { expiresIn, unhoistableHeaders: new Set(Object.keys(headers)) },
  );
  return {
    url,
    method: 'PUT',
    headers,
    expiresAt: new Date(now().getTime() + expiresIn * 1000).toISOString(),
    key: store.objectKey(key),
    jobId,
    statusKey: store.objectKey(outputKeys(jobId).manifest),
  };
}

/** A client that would sign the empty body's checksum into the URL (PRESIGNING_SETTINGS says why). */
async function refuseChecksummingClient({ client }: ObjectStore): Promise<void> {
  const setting = await client.config.requestChecksumCalculation();
  if (setting === PRESIGNING_SETTINGS.requestChecksumCalculation) return;
  throw new NstError(
    'INVALID_OPTION',
    `presign with an S3 client made with requestChecksumCalculation: '${PRESIGNING_SETTINGS.requestChecksumCalculation}' (this one: '${setting}' would sign the empty body's CRC32 into the URL, and S3 would refuse the upload)`,
  );
}
