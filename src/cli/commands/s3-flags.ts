/**
 * The flags of the bucket commands (`nst serve`, `nst submit`, `nst status`): what they default to and how
 * --help words them.
 */
import { ENDPOINT_ENV } from '../../storage/s3-endpoint.js';

/** `nst serve`'s port, and so the endpoint the bucket commands use by default. */
export const DEFAULT_PORT = 4568;
export const DEFAULT_ENDPOINT = `http://127.0.0.1:${DEFAULT_PORT}`;
export const DEFAULT_BUCKET = 'nst';

/** Where the pipeline is in its bucket: the bucket, and the key prefix its layout lives under. */
export interface PipelineLocationFlags {
  readonly bucket: string;
  readonly prefix?: string;
}

export const BUCKET_FLAG_HELP = 'bucket name';
export const PREFIX_FLAG_HELP =
  "the key prefix the pipeline's folders live under, as a StyleTransferPipeline's prefix (e.g. art/; default: none)";

/** Which S3 a bucket command talks to (src/cli/s3-target.ts has the rule). */
export interface S3TargetFlags {
  readonly endpoint?: string;
  readonly aws?: boolean;
}

export const ENDPOINT_FLAG_HELP = `S3 endpoint of a local \`nst serve\` (default: ${DEFAULT_ENDPOINT}, unless $${ENDPOINT_ENV.s3} or $${ENDPOINT_ENV.all} is set: then the SDK's configuration, as --aws)`;
export const AWS_FLAG_HELP = "use the AWS SDK's configuration (credential chain, region, endpoint variables)";
