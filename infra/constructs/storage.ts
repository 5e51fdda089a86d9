/**
 * The pipeline's one bucket (docs/ARCHITECTURE.md, "The S3 contract") and the bucket that receives its access
 * logs.
 *
 * Encryption is SSE-S3 (S3-managed keys): it costs nothing per request, needs no key policy for Lambda,
 * Batch or the S3 event notifications, and an access-log target bucket must use it anyway (log delivery
 * does not write to SSE-KMS buckets). Versioning is on: the job id derives from the object version, so
 * overwriting an input with the same key starts a new job instead of being taken for a duplicate event.
 */
import { createHash } from 'node:crypto';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TEMPORARY_TAG } from '../../src/storage/object-store.js';
import { DEFAULT_CONFIG } from '../config.js';

export interface StorageProps {
  /**
   * The key prefix the pipeline's folders live under: the lifecycle rules cover only it.
   * @default '' (the bucket's top)
   */
  readonly keyPrefix?: string;
  /**
   * Days before objects with the temporary tag (progress frames, checkpoints) expire.
   * @default 7 (DEFAULT_CONFIG.temporaryExpiryDays)
   */
  readonly temporaryExpiryDays?: number;
  /**
   * Days access logs are kept.
   * @default 30 (DEFAULT_CONFIG.logRetentionDays)
   */
  readonly accessLogDays?: number;
}

const secure = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  encryption: s3.BucketEncryption.S3_MANAGED,
  enforceSSL: true,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  // User data (photos, results): a stack deletion must not take it along.
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

/**
 * The lifecycle rules the pipeline's folders need: temporary objects (progress frames, checkpoints; tagged
 * nst-temporary=true) expire, old versions do not pile up. Under `keyPrefix` only, so that a host app can
 * add them to a bucket it shares with other uses (`bucket.addLifecycleRule(...rule)` for each).
 */
export function pipelineLifecycleRules({
  keyPrefix = '',
  temporaryExpiryDays = DEFAULT_CONFIG.temporaryExpiryDays,
}: Pick<StorageProps, 'keyPrefix' | 'temporaryExpiryDays'> = {}): s3.LifecycleRule[] {
  const prefix = keyPrefix || undefined;
  // Ids a bucket's other pipelines (other prefixes) do not share: S3 refuses two rules with one id. A
  // readable part of the prefix, and a hash of all of it (two prefixes may read alike).
  const id = (name: string) => (prefix ? `${name}-${prefixTag(prefix)}` : name);
  return [
    {
      id: id('expire-temporary'),
      prefix,
      tagFilters: { [TEMPORARY_TAG.key]: TEMPORARY_TAG.value },
      expiration: Duration.days(temporaryExpiryDays),
      noncurrentVersionExpiration: Duration.days(1),
    },
    {
      // Old versions only matter for a short while (a job reads the version its event named).
      id: id('expire-noncurrent'),
      prefix,
      noncurrentVersionExpiration: Duration.days(30),
      abortIncompleteMultipartUploadAfter: Duration.days(7),
      expiredObjectDeleteMarker: true,
    },
  ];
}

/** `art/` -> `art-1c9d2b7e`: up to 40 readable characters and 8 hex digits of the prefix's hash. */
function prefixTag(prefix: string): string {
  const readable = prefix
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${readable}-${createHash('sha256').update(prefix).digest('hex').slice(0, 8)}`;
}

export class Storage extends Construct {
  readonly bucket: s3.Bucket;
  readonly logsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    const { accessLogDays = DEFAULT_CONFIG.logRetentionDays } = props;

    // cdk-nag's S1 counts a bucket that receives access logs as compliant without logging of its own.
    this.logsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...secure,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(accessLogDays) }],
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...secure,
      versioned: true,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 'pipeline-bucket/',
      lifecycleRules: pipelineLifecycleRules(props),
    });
  }
}
