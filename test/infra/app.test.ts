/**
 * `npx cdk synth` as a user runs it, offline: the tsx app builds the real layers, esbuild bundles the
 * function, cdk-nag checks the app, and the GPU image is only recorded. A stand-in `docker` on PATH
 * records any call, proxies point nowhere, so neither Docker nor the network can be used unnoticed.
 * Then the sizes Lambda limits are measured from cdk.out: function code plus layers, unzipped.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/paths.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { MANIFEST_FILE } from '../../src/weights/manifest.js';
import { writeWeights } from '../../src/weights/store.js';
import { type Cfn, dirBytes, LAMBDA_UNZIPPED_LIMIT } from './helpers.js';

const REAL_WEIGHTS_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'models', 'vgg19');
const hasRealWeights = existsSync(path.join(REAL_WEIGHTS_DIR, MANIFEST_FILE));

let tmp: string;
let out: string;
let dockerLog: string;
let weightsDir: string;
let synthOutput: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-synth-'));
  out = path.join(tmp, 'cdk.out');
  dockerLog = path.join(tmp, 'docker-calls.log');
  const docker = path.join(tmp, 'docker');
  writeFileSync(docker, `#!/bin/sh\necho "docker $*" >> "${dockerLog}"\nexit 1\n`);
  chmodSync(docker, 0o755);

  if (hasRealWeights) {
    weightsDir = REAL_WEIGHTS_DIR;
  } else {
    // Generated weights have the real shapes, so the layer has the real size.
    console.log(
      `no real weights at ${REAL_WEIGHTS_DIR}: measuring with generated weights of the same shapes`,
    );
    weightsDir = path.join(tmp, 'weights');
    await writeWeights(weightsDir, generateVggWeights(1));
  }

  const args = ['cdk', 'synth', '--quiet', '--output', out];
  for (const [key, value] of Object.entries({ weightsDir, layerBuildDir: path.join(tmp, 'layers') })) {
    args.push('--context', `${key}=${value}`);
  }
  const { stdout, stderr } = await promisify(execFile)('npx', args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PATH: `${tmp}${path.delimiter}${process.env.PATH}`,
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      npm_config_offline: 'true',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  synthOutput = stdout + stderr;
}, 240_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

const readJson = (file: string) => JSON.parse(readFileSync(path.join(out, file), 'utf8'));
const STACK = 'ServerlessStyleTransfer';

describe('npx cdk synth, offline and without Docker', () => {
  it('writes the stack template and never calls docker', () => {
    expect(existsSync(path.join(out, `${STACK}.template.json`))).toBe(true);
    expect(existsSync(dockerLog) ? readFileSync(dockerLog, 'utf8') : '').toBe('');
    expect(synthOutput).not.toMatch(/AwsSolutions-\w+/); // cdk-nag ran in the app and found nothing
  });

  it('records the GPU image for deploy time, from functions/batch/Dockerfile', () => {
    const images = Object.values(readJson(`${STACK}.assets.json`).dockerImages) as {
      source: { dockerFile: string; platform: string };
    }[];
    expect(images.map((i) => i.source)).toEqual([
      expect.objectContaining({ dockerFile: 'functions/batch/Dockerfile', platform: 'linux/amd64' }),
    ]);
  });
});

describe('Lambda package size', () => {
  it('keeps function code plus layers, unzipped, under 250 MB', () => {
    const template = readJson(`${STACK}.template.json`);
    const resources = Object.values(template.Resources) as { Type: string; Properties: Cfn }[];
    const assetDir = (s3Key: string) => path.join(out, `asset.${s3Key.replace(/\.zip$/, '')}`);
    const fn = resources.find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName === 'nst-stylize',
    );
    const layers = resources.filter((r) => r.Type === 'AWS::Lambda::LayerVersion');
    const sizes: Record<string, number> = {
      function: dirBytes(assetDir(fn!.Properties.Code.S3Key)),
      ...Object.fromEntries(
        layers.map((l) => [
          l.Properties.Description.startsWith('VGG') ? 'vgg19 layer' : 'runtime layer',
          dirBytes(assetDir(l.Properties.Content.S3Key)),
        ]),
      ),
    };
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    const mb = (n: number) => `${(n / 1e6).toFixed(1).padStart(6)} MB (${n} bytes)`;
    console.log(
      `Lambda package, unzipped (${hasRealWeights ? 'real' : 'generated'} weights):\n` +
        Object.entries(sizes)
          .map(([name, bytes]) => `  ${name.padEnd(14)} ${mb(bytes)}`)
          .join('\n') +
        `\n  ${'total'.padEnd(14)} ${mb(total)}\n  ${'limit'.padEnd(14)} ${mb(LAMBDA_UNZIPPED_LIMIT)}`,
    );
    expect(Object.keys(sizes).sort()).toEqual(['function', 'runtime layer', 'vgg19 layer']);
    // float16 VGG-19 through conv5_1: 12,944,960 parameters x 2 bytes, plus the manifest.
    expect(sizes['vgg19 layer']).toBeGreaterThan(12_944_960 * 2);
    expect(sizes['vgg19 layer']).toBeLessThan(12_944_960 * 2 + 100_000);
    expect(total).toBeLessThan(LAMBDA_UNZIPPED_LIMIT);
  });
});
