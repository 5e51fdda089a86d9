/**
 * The Lambda handler against any S3-compatible server through the SDK's standard endpoint variables, as a
 * user points it at LocalStack, MinIO or `nst serve`: the handler builds its own S3 client
 * (createSdkS3Client), and the SDK reads the endpoint and credentials from the environment. The local
 * server has no per-bucket DNS names, so a job only succeeds when the client addresses it path-style.
 * (test/deployed/stylize-function.test.ts runs the bundled handler with AWS_ENDPOINT_URL_S3 and
 * AWS_ENDPOINT_URL_SNS.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/storage/s3-client.js';
import { readJson } from '../helpers/local-s3.js';
import { captured, jpeg, lambdaContext, TINY_METADATA, testHandler, usePipelineFixture } from './harness.js';

const fixture = usePipelineFixture();

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The variables set as a user sets them (the SDK reads process.env; the handler gets the same). */
function environment(endpoints: Record<string, string>): Record<string, string> {
  const env = {
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: LOCAL_REGION,
    ...endpoints,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  return env;
}

/**
 * The endpoint by a host name, as LocalStack's and MinIO's usually are: the SDK addresses an IP address
 * path-style by itself, a name virtual-host style (`<bucket>.localhost`) unless told otherwise.
 */
const byName = (endpoint: string) => endpoint.replace('127.0.0.1', 'localhost');

async function runJob(env: Record<string, string>) {
  const sns = captured.sns();
  const handler = testHandler(fixture.weightsDir, { sns: sns.client, env });
  const event = await fixture.server.upload('inputs/starry/photo one.jpg', await jpeg(40, 32), TINY_METADATA);
  const [outcome] = await handler(event, lambdaContext());
  return { outcome, sns };
}

describe('the handler on an S3-compatible server named by the SDK endpoint variables', () => {
  it('AWS_ENDPOINT_URL (every service): the job runs, path-style, with the result and job.json', async () => {
    const { outcome, sns } = await runJob(
      environment({ AWS_ENDPOINT_URL: byName(fixture.server.s3.endpoint) }),
    );
    expect(outcome.status).toBe('succeeded');
    const manifest = await readJson<JobManifest>(fixture.server.store, `outputs/${outcome.jobId}/job.json`);
    expect(manifest.status).toBe('succeeded');
    expect(await fixture.server.store.get(manifest.output!.key)).toBeDefined();
    expect(sns.calls).toHaveLength(1);
  });

  it('AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL, as the SDK documents', async () => {
    const env = environment({
      AWS_ENDPOINT_URL_S3: byName(fixture.server.s3.endpoint),
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    });
    const { outcome } = await runJob(env);
    expect(outcome.status).toBe('succeeded');
  });
});
