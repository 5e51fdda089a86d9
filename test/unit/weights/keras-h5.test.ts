import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateVggWeights, VGG19_LAYERS } from '../../../src/engine/vgg.js';
import { convertKerasH5 } from '../../../src/weights/keras-h5.js';
import { MANIFEST_FILE } from '../../../src/weights/manifest.js';
import { loadWeights } from '../../../src/weights/store.js';
import { type KerasH5Options, writeKerasH5 } from '../../helpers/weights-keras-h5.js';

const PARAMETERS = 12_944_960;
const weights = generateVggWeights(3);
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-keras-h5-test-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function h5(name: string, opts: KerasH5Options = {}): Promise<string> {
  const file = path.join(tmp, `${name}.h5`);
  await writeKerasH5(file, weights, opts);
  return file;
}

describe('convertKerasH5', () => {
  it('converts the Keras 2 layout exactly and drops the layers after block5_conv1', async () => {
    const file = await h5('keras2', { naming: 'keras2', extraLayers: true });
    const out = path.join(tmp, 'out-keras2');
    expect(await convertKerasH5(file, out)).toEqual({ tensors: 26, bytes: PARAMETERS * 4 });
    const manifest = JSON.parse(await readFile(path.join(out, MANIFEST_FILE), 'utf8'));
    const names: string[] = manifest.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    expect(names).toHaveLength(26);
    expect(names.some((n) => n.startsWith('block5_conv2'))).toBe(false);
    const loaded = await loadWeights(out);
    for (const [name, tensor] of weights) {
      expect(loaded.get(name)!.shape, name).toEqual(tensor.shape);
      expect(Buffer.from(loaded.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer)), name).toBe(
        true,
      );
    }
  });

  it('converts the released file layout (Keras 1 names) to float16 within half-precision rounding', async () => {
    const file = await h5('keras1', { naming: 'keras1', extraLayers: true });
    const out = path.join(tmp, 'out-keras1');
    expect(await convertKerasH5(file, out, { float16: true })).toEqual({
      tensors: 26,
      bytes: PARAMETERS * 2,
    });
    const loaded = await loadWeights(out);
    for (const [name, tensor] of weights) {
      const got = loaded.get(name)!.data;
      for (let i = 0; i < got.length; i++) {
        const want = tensor.data[i];
        if (!(Math.abs(got[i] - want) <= Math.max(Math.abs(want) * 1e-3, 2 ** -25))) {
          expect.fail(`${name}[${i}]: ${got[i]} vs ${want}`);
        }
      }
    }
  });

  it('reads a full-model save, whose layers sit under /model_weights', async () => {
    const file = await h5('full-model', { fullModel: true });
    const out = path.join(tmp, 'out-full');
    await convertKerasH5(file, out);
    const loaded = await loadWeights(out);
    expect(loaded.get('block5_conv1/bias')!.data).toEqual(weights.get('block5_conv1/bias')!.data);
  });
});

describe('convertKerasH5 errors', () => {
  // Small files: the layers after the one at fault are left out (conversion stops at the first problem).
  const from = (layer: string) =>
    VGG19_LAYERS.slice(VGG19_LAYERS.findIndex((l) => l.name === layer)).map((l) => l.name);

  async function conversionError(file: string): Promise<Error & { code?: string }> {
    const out = path.join(tmp, `never-${path.basename(file)}`);
    const error = await convertKerasH5(file, out).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error, 'conversion should fail').toBeDefined();
    expect(existsSync(out)).toBe(false);
    return error!;
  }

  it('rejects a file that is not HDF5', async () => {
    const file = path.join(tmp, 'weights.h5');
    await writeFile(
      file,
      'this is not an HDF5 file, just some text that is long enough to scan\n'.repeat(20),
    );
    const error = await conversionError(file);
    expect(error).toMatchObject({ code: 'WEIGHTS_INVALID' });
    expect(error.message).toContain(`${file}: not an HDF5 file`);
  });

  it('rejects a missing file', async () => {
    const error = await conversionError(path.join(tmp, 'absent.h5'));
    expect(error).toMatchObject({ code: 'WEIGHTS_INVALID', message: /absent\.h5: file not found/ });
  });

  it('names a missing layer', async () => {
    const error = await conversionError(await h5('missing-layer', { omit: from('block3_conv2') }));
    expect(error).toMatchObject({ code: 'WEIGHTS_INVALID', message: /missing layer group \/block3_conv2/ });
  });

  it('names the dataset with a wrong shape', async () => {
    // A channels-first (OIHW) kernel where Keras' tf ordering (HWIO) belongs.
    const file = await h5('wrong-shape', {
      omit: from('block3_conv1'),
      kernelShapes: { block2_conv1: [128, 64, 3, 3] },
    });
    const error = await conversionError(file);
    expect(error).toMatchObject({ code: 'WEIGHTS_INVALID' });
    expect(error.message).toContain(
      'dataset /block2_conv1/block2_conv1/kernel:0 has shape [128,64,3,3], expected [3,3,64,128]',
    );
  });
});
