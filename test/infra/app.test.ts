/**
 * `npx cdk synth` as a user runs it, offline and without Docker (test/helpers/cdk-synth.ts, which shares
 * one synth with test/deployed/), then the sizes Lambda limits, measured from cdk.out: function code plus
 * layers, unzipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { STACK, type SynthesisedApp, synthesisedApp } from '../helpers/cdk-synth.js';
import { type Cfn, dirBytes, LAMBDA_UNZIPPED_LIMIT } from './helpers.js';

let app: SynthesisedApp;
let out: string;

beforeAll(async () => {
  app = await synthesisedApp();
  out = app.out;
  console.log(
    `npx cdk synth: ${app.seconds.toFixed(1)} s${app.reused ? ' (reused: synthesised earlier from the same inputs)' : ''}`,
  );
}, 240_000);

const readJson = (file: string) => JSON.parse(readFileSync(path.join(out, file), 'utf8'));

describe('npx cdk synth, offline and without Docker', () => {
  it('writes the stack template and never calls docker', () => {
    expect(existsSync(path.join(out, `${STACK}.template.json`))).toBe(true);
    expect(app.dockerCalls).toBe('');
    expect(app.output).not.toMatch(/AwsSolutions-\w+/); // cdk-nag ran in the app and found nothing
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
      `Lambda package, unzipped (${app.realWeights ? 'real' : 'generated'} weights):\n` +
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
