import { describe, expect, it } from 'vitest';
import { configuredEndpoint } from '../../../src/storage/s3-endpoint.js';

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
