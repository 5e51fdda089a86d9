import { describe, expect, it } from 'vitest';
import { createS3Client, createSdkS3Client } from '../../../src/storage/s3-client.js';

describe('S3 clients', () => {
  it('address buckets by path at a configured S3-compatible endpoint, by host name in AWS', async () => {
    const compatible = createSdkS3Client({ AWS_ENDPOINT_URL_S3: 'http://minio.test:9000' });
    const aws = createSdkS3Client({});
    expect(compatible.config.forcePathStyle).toBe(true);
    expect(await compatible.config.endpoint?.()).toMatchObject({ hostname: 'minio.test', port: 9000 });
    expect(aws.config.forcePathStyle ?? false).toBe(false);
    compatible.destroy();
    aws.destroy();
  });

  it('talk to a local server with its credentials, path-style, checksums only where required', async () => {
    const local = createS3Client({ endpoint: 'http://127.0.0.1:4568' });
    expect(await local.config.credentials()).toMatchObject({ accessKeyId: 'S3RVER' });
    expect(local.config.forcePathStyle).toBe(true);
    expect(await local.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    local.destroy();
  });
});
