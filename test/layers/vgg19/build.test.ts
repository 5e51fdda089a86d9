import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVgg19Layer } from '../../../layers/vgg19/build.js';
import { NstError } from '../../../src/errors.js';
import { MANIFEST_FILE } from '../../../src/weights/manifest.js';
import { loadWeights } from '../../../src/weights/store.js';
import { generatedWeights, listFiles } from '../../infra/helpers.js';

let tmp: string;
/** Float32 weights of the right shapes (generated), the layer's source. */
let weightsDir: string;

beforeAll(async () => {
  ({ tmp, weightsDir } = await generatedWeights('nst-vgg19-layer-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('vgg19 layer', () => {
  it('packs the weights as float16 under vgg19/, loading back within float16 precision', async () => {
    const outDir = path.join(tmp, 'vgg19-layer');
    const layer = await buildVgg19Layer({ outDir, weightsDir });
    expect(listFiles(outDir).every((f) => f.startsWith('vgg19/'))).toBe(true);
    const manifest = JSON.parse(await readFile(path.join(outDir, 'vgg19', MANIFEST_FILE), 'utf8'));
    const entries = manifest.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
    expect(entries).toHaveLength(26);
    expect(
      entries.every((e: { quantization?: { dtype: string } }) => e.quantization?.dtype === 'float16'),
    ).toBe(true);
    expect(layer.bytes).toBe(12_944_960 * 2);

    const original = await loadWeights(weightsDir);
    const packed = await loadWeights(path.join(outDir, 'vgg19'));
    const a = original.get('block3_conv1/kernel')!.data;
    const b = packed.get('block3_conv1/kernel')!.data;
    let worst = 0;
    for (let i = 0; i < a.length; i++)
      worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), 1e-4));
    expect(worst).toBeLessThan(1e-3);
  });

  it('fails without weights with an error that says how to get them and how synth finds them', async () => {
    const error = await buildVgg19Layer({
      outDir: path.join(tmp, 'none'),
      weightsDir: path.join(tmp, 'absent'),
    }).catch((e) => e);
    expect(error).toBeInstanceOf(NstError);
    expect(error.code).toBe('WEIGHTS_NOT_FOUND');
    expect(error.message).toContain('npx nst weights fetch');
    expect(error.message).toContain('-c weightsDir=DIR');
  });
});
