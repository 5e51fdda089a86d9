/**
 * Which S3 the bucket commands (`nst submit`, `nst status`) talk to, by one rule:
 * - `--endpoint URL`: that local server (`nst serve`, s3rver: its credentials and settings);
 * - `--aws`: the SDK's own configuration (credential chain, region, endpoint variables);
 * - neither: the SDK's configuration when an endpoint variable (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL) names
 *   an S3-compatible server (LocalStack, MinIO, ...), else the local `nst serve` default.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isNstError, NstError } from '../errors.js';
import { parseKeyPrefix } from '../storage/key-prefix.js';
import { ObjectStore } from '../storage/object-store.js';
import { createS3Client, createSdkS3Client, type S3ClientSettings } from '../storage/s3-client.js';
import { configuredEndpoint, ENDPOINT_ENV, type Env } from '../storage/s3-endpoint.js';
import { DEFAULT_ENDPOINT, type PipelineLocationFlags, type S3TargetFlags } from './commands/s3-flags.js';

export interface S3Target {
  readonly client: S3Client;
  /** Where the requests go, for an error's hint. */
  readonly hint: string;
}

export function s3Target(
  flags: S3TargetFlags,
  env: Env = process.env,
  settings: S3ClientSettings = {},
): S3Target {
  if (flags.endpoint && flags.aws)
    throw new NstError('INVALID_OPTION', '--endpoint and --aws exclude each other: give one');
  if (flags.endpoint) return localTarget(flags.endpoint);
  const configured = configuredEndpoint(env);
  if (flags.aws || configured) {
    return {
      client: createSdkS3Client(env, settings),
      hint: configured
        ? `is the S3 server at ${configured} (from $${env[ENDPOINT_ENV.s3] ? ENDPOINT_ENV.s3 : ENDPOINT_ENV.all}) running?`
        : "AWS S3 with the SDK's credentials and region",
    };
  }
  return localTarget(DEFAULT_ENDPOINT);
}

function localTarget(endpoint: string): S3Target {
  try {
    new URL(endpoint);
  } catch {
    throw new NstError(
      'INVALID_OPTION',
      `--endpoint must be a URL like ${DEFAULT_ENDPOINT}, got ${endpoint}`,
    );
  }
  return { client: createS3Client({ endpoint }), hint: `is \`nst serve\` running at ${endpoint}?` };
}

/** Runs `body` with the target's client (destroyed after); an unreachable S3 says where it was looked for. */
export async function withS3Target<T>(target: S3Target, body: (client: S3Client) => Promise<T>): Promise<T> {
  try {
    return await body(target.client);
  } catch (e) {
    if (isNstError(e) && e.code === 'STORAGE_UNAVAILABLE')
      throw new NstError(e.code, `${e.message} (${target.hint})`, { cause: e });
    throw e;
  } finally {
    target.client.destroy();
  }
}

/** `--prefix` checked: '' or folders ending in '/'. */
export const keyPrefixFlag = (prefix: string | undefined): string => parseKeyPrefix(prefix, '--prefix');

/** The pipeline's bucket as the bucket commands see it: under --prefix, as the pipeline sees it. */
export function pipelineStore(client: S3Client, flags: PipelineLocationFlags): ObjectStore {
  return new ObjectStore(client, flags.bucket, keyPrefixFlag(flags.prefix));
}
