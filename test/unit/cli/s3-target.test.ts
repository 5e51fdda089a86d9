/** The endpoint rule of `nst submit` and `nst status`. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { s3Target, withS3Target } from '../../../src/cli/s3-target.js';
import { NstError } from '../../../src/errors.js';
import { thrown } from '../../helpers/thrown.js';

/** Where the target's client sends requests, and with which credentials. */
async function resolved(target: ReturnType<typeof s3Target>) {
  const { client } = target;
  const endpoint = client.config.endpoint ? await client.config.endpoint() : undefined;
  const credentials = await client.config.credentials();
  client.destroy();
  return {
    url: endpoint ? `${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}` : undefined,
    accessKeyId: credentials.accessKeyId,
    forcePathStyle: client.config.forcePathStyle,
    hint: target.hint,
  };
}

const sdkEnv = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  AWS_REGION: 'eu-west-1',
};

describe('s3Target', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('--endpoint: that local server, with its credentials', async () => {
    expect(await resolved(s3Target({ endpoint: 'http://127.0.0.1:9000' }, {}))).toMatchObject({
      url: 'http://127.0.0.1:9000',
      accessKeyId: 'S3RVER',
      forcePathStyle: true,
      hint: 'is `nst serve` running at http://127.0.0.1:9000?',
    });
  });

  it("neither flag nor endpoint variable: `nst serve`'s default endpoint", async () => {
    expect(await resolved(s3Target({}, {}))).toMatchObject({
      url: 'http://127.0.0.1:4568',
      accessKeyId: 'S3RVER',
    });
  });

  it("an endpoint variable and no flag: the SDK's configuration, path-style, the variable in the hint", async () => {
    // The SDK reads its variables from process.env itself.
    for (const [name, value] of Object.entries({ ...sdkEnv, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9999' }))
      vi.stubEnv(name, value);
    const target = s3Target({}, process.env);
    expect(target.hint).toBe(
      'is the S3 server at http://127.0.0.1:9999 (from $AWS_ENDPOINT_URL_S3) running?',
    );
    expect(await resolved(target)).toMatchObject({ accessKeyId: 'AKIDEXAMPLE', forcePathStyle: true });
  });

  it("--aws: the SDK's configuration", async () => {
    const target = s3Target({ aws: true }, {});
    expect(target.hint).toBe("AWS S3 with the SDK's credentials and region");
    target.client.destroy();
  });

  it('refuses both flags, and an endpoint that is not a URL', () => {
    expect(thrown(() => s3Target({ aws: true, endpoint: 'http://x' }, {}))).toMatchObject({
      code: 'INVALID_OPTION',
    });
    expect(thrown(() => s3Target({ endpoint: 'localhost' }, {})).message).toContain(
      '--endpoint must be a URL like http://127.0.0.1:4568',
    );
  });

  it('names where it looked when S3 is unavailable', async () => {
    const target = s3Target({ endpoint: 'http://127.0.0.1:9000' }, {});
    await expect(
      withS3Target(target, async () => {
        throw new NstError('STORAGE_UNAVAILABLE', 'cannot read s3://nst/x: connect ECONNREFUSED');
      }),
    ).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message:
        'cannot read s3://nst/x: connect ECONNREFUSED (is `nst serve` running at http://127.0.0.1:9000?)',
    });
  });
});
