/**
 * The SDK's standard S3 endpoint variables, read without loading the SDK (command-line help names them;
 * the bucket commands decide by them which S3 to talk to).
 */

/**
 * The SDK's standard endpoint variables for S3, the service-specific one first (what the SDK itself
 * reads), and the switch that makes the SDK ignore them.
 */
export const ENDPOINT_ENV = {
  s3: 'AWS_ENDPOINT_URL_S3',
  all: 'AWS_ENDPOINT_URL',
  ignore: 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
} as const;

/** Environment variables, as process.env holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The S3 endpoint the SDK will use from the environment, if one is configured there. */
export function configuredEndpoint(env: Env = process.env): string | undefined {
  if (env[ENDPOINT_ENV.ignore] === 'true') return undefined;
  return env[ENDPOINT_ENV.s3] || env[ENDPOINT_ENV.all] || undefined;
}
