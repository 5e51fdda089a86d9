import { describe, expect, it } from 'vitest';
import { configuredEndpoint, createS3Client, createSdkS3Client } from '../../../src/storage/s3-client.js';

describe('configuredEndpoint', () => {
  it("reads the SDK's S3 variable first, then the general one", () => {
    expect(
      configuredEndpoint({ AWS_ENDPOINT_URL_S3: 'http://s3.test:9000', AWS_ENDPOINT_URL: 'http://all.test' }),
    ).toBe('http://s3.test:9000');
    expect(configuredEndpoint({ AWS_ENDPOINT_URL: 'http://all.test' })).toBe('http://all.test');
    expect(configuredEndpoint({})).toBeUndefined();
  });

  it('is none when the SDK is told to ignore configured endpoints', () => {
    expect(
      configuredEndpoint({
        AWS_ENDPOINT_URL_S3: 'http://s3.test',
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
      }),
    ).toBeUndefined();
  });
});

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
