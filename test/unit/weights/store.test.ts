import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VggWeights } from '../../../src/engine/types.js';
import { expectedWeightShapes, generateVggWeights, VGG19_LAYERS } from '../../../src/engine/vgg.js';
import { NstError } from '../../../src/errors.js';
import { MANIFEST_FILE } from '../../../src/weights/manifest.js';
import { loadWeights, writeWeights } from '../../../src/weights/store.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const REAL_WEIGHTS_DIR = path.resolve(repoRoot, '..', 'shared', 'models', 'vgg19');
const hasRealWeights = existsSync(path.join(REAL_WEIGHTS_DIR, MANIFEST_FILE));
if (!hasRealWeights) console.warn(`skipping the real-weights test: no weights at ${REAL_WEIGHTS_DIR}`);

/** 3x3 convs through conv5_1: sum of 9 * in * out + out. */
const PARAMETERS = 12_944_960;

const weights = generateVggWeights(7);
let tmp: string;
/** A float32 directory written once; malformed cases copy and damage it. */
let valid: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-weights-test-'));
  valid = path.join(tmp, 'valid');
  await writeWeights(valid, weights);
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function copyOf(name: string): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir);
  for (const file of await readdir(valid))
    await writeFile(path.join(dir, file), await readFile(path.join(valid, file)));
  return dir;
}

/** The manifest as tests damage it. */
interface RawManifest {
  format: string;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[] }[] }[];
}

async function editManifest(dir: string, edit: (m: RawManifest) => void): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  const manifest = JSON.parse(await readFile(file, 'utf8'));
  edit(manifest);
  await writeFile(file, JSON.stringify(manifest));
}

async function loadError(dir: string): Promise<NstError> {
  const error = await loadWeights(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NstError);
  return error as NstError;
}

function expectEqual(actual: VggWeights, expected: VggWeights, complete = true) {
  if (complete) expect([...actual.keys()].sort()).toEqual([...expectedWeightShapes().keys()].sort());
  for (const [name, tensor] of expected) {
    expect(actual.get(name)!.shape, name).toEqual(tensor.shape);
    expect(Buffer.from(actual.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer)), name).toBe(
      true,
    );
  }
}

describe('writeWeights / loadWeights', () => {
  it('round-trips float32 exactly, in ~4 MB shards, only the 26 expected tensors in layer order', async () => {
    const withExtra = new Map(weights);
    withExtra.set('block5_conv2/kernel', { shape: [3, 3, 512, 512], data: new Float32Array(9 * 512 * 512) });
    const dir = path.join(tmp, 'f32');
    const summary = await writeWeights(dir, withExtra);
    expect(summary).toEqual({ tensors: 26, bytes: PARAMETERS * 4 });
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.format).toBe('vgg19-conv');
    expect(manifest.preprocessing).toBe('caffe-bgr');
    const [group] = manifest.weightsManifest;
    expect(group.weights.map((w: { name: string }) => w.name)).toEqual(
      VGG19_LAYERS.flatMap((l) => [`${l.name}/kernel`, `${l.name}/bias`]),
    );
    expect(group.paths).toHaveLength(Math.ceil((PARAMETERS * 4) / (4 * 1024 * 1024)));
    expect((await stat(path.join(dir, group.paths[0]))).size).toBe(4 * 1024 * 1024);
    expectEqual(await loadWeights(dir), weights);
  });

  it('writes float16 at half the size and loads it back within float16 rounding', async () => {
    const dir = path.join(tmp, 'f16');
    const summary = await writeWeights(dir, weights, { float16: true });
    expect(summary.bytes).toBe(PARAMETERS * 2);
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
    expect(manifest.weightsManifest[0].weights[0].quantization).toEqual({ dtype: 'float16' });
    const loaded = await loadWeights(dir);
    for (const [name, tensor] of weights) {
      const got = loaded.get(name)!;
      expect(got.shape).toEqual(tensor.shape);
      for (let i = 0; i < tensor.data.length; i++) {
        const want = tensor.data[i];
        // Half precision: 11 significant bits for normal values, steps of 2^-24 below 2^-14.
        const tolerance = Math.max(Math.abs(want) * 2 ** -11, 2 ** -25);
        if (!(Math.abs(got.data[i] - want) <= tolerance))
          expect.fail(`${name}[${i}]: ${got.data[i]} vs ${want}`);
      }
    }
  });

  it('dequantizes uint8 tensors as q * scale + min', async () => {
    // A hand-written single-shard directory: block1_conv1/kernel as uint8, the rest float32.
    const dir = path.join(tmp, 'uint8');
    await mkdir(dir);
    const q = Uint8Array.from({ length: 3 * 3 * 3 * 64 }, (_, i) => (i * 37) % 256);
    const quantization = { dtype: 'uint8', scale: 0.01, min: -1.25 };
    const entries = VGG19_LAYERS.flatMap((l) => [`${l.name}/kernel`, `${l.name}/bias`]).map((name, i) => ({
      name,
      shape: weights.get(name)!.shape,
      dtype: 'float32',
      ...(i === 0 && { quantization }),
    }));
    const bytes = entries.map(({ name }, i) =>
      i === 0 ? q : new Uint8Array(weights.get(name)!.data.buffer),
    );
    await writeFile(path.join(dir, 'weights.bin'), Buffer.concat(bytes));
    const manifest = {
      format: 'vgg19-conv',
      preprocessing: 'caffe-bgr',
      weightsManifest: [{ paths: ['weights.bin'], weights: entries }],
    };
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest));

    const loaded = await loadWeights(dir);
    const kernel = loaded.get('block1_conv1/kernel')!.data;
    for (let i = 0; i < q.length; i++) expect(kernel[i]).toBeCloseTo(q[i] * 0.01 - 1.25, 5);
    expectEqual(new Map([...loaded].slice(1)), new Map([...weights].slice(1)), false);
  });

  it('replaces an existing weights directory whole and leaves no temporary files', async () => {
    const dir = path.join(tmp, 'replace');
    await writeWeights(dir, generateVggWeights(1));
    await writeWeights(dir, weights, { float16: true });
    expect((await loadWeights(dir)).get('block1_conv1/bias')!.data[0]).toBeCloseTo(
      weights.get('block1_conv1/bias')!.data[0],
      3,
    );
    expect((await readdir(dir)).filter((f) => f.endsWith('.bin'))).toHaveLength(7);
    expect((await readdir(tmp)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses invalid weights and non-weights targets without touching the target', async () => {
    const missing = new Map(weights);
    missing.delete('block3_conv2/bias');
    const dir = path.join(tmp, 'never');
    await expect(writeWeights(dir, missing)).rejects.toMatchObject({
      code: 'WEIGHTS_INVALID',
      message: /block3_conv2\/bias/,
    });
    expect(existsSync(dir)).toBe(false);

    const project = path.join(tmp, 'project');
    await mkdir(project);
    await writeFile(path.join(project, 'package.json'), '{}');
    await expect(writeWeights(project, weights)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    expect(await readdir(project)).toEqual(['package.json']);
    expect((await readdir(tmp)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it.skipIf(!hasRealWeights)(
    'loads the real weights in ../shared/models/vgg19 with the right shapes',
    async () => {
      const real = await loadWeights(REAL_WEIGHTS_DIR);
      let total = 0;
      for (const [name, shape] of expectedWeightShapes()) {
        expect(real.get(name)!.shape, name).toEqual(shape);
        total += real.get(name)!.data.length;
      }
      expect(total).toBe(PARAMETERS);
      // Real filters are not the generator's: the first conv's biases are far from its ±0.05 range.
      expect(Math.max(...real.get('block1_conv1/bias')!.data.map(Math.abs))).toBeGreaterThan(0.1);
    },
  );
});

describe('loadWeights errors', () => {
  const cases: [string, (dir: string) => Promise<unknown>, string, RegExp][] = [
    [
      'bad JSON',
      (d) => writeFile(path.join(d, MANIFEST_FILE), '{"format": "vgg19-conv",'),
      'WEIGHTS_INVALID',
      /weights\.json is not valid JSON/,
    ],
    [
      'wrong format field',
      (d) => editManifest(d, (m) => (m.format = 'layers-model')),
      'WEIGHTS_INVALID',
      /format is "layers-model", expected "vgg19-conv"/,
    ],
    [
      'missing tensor',
      (d) => editManifest(d, (m) => (m.weightsManifest[0].weights[19].name = 'block4_conv2/renamed')),
      'WEIGHTS_INVALID',
      /has no tensor "block4_conv2\/bias"/,
    ],
    [
      'wrong shape',
      (d) => editManifest(d, (m) => (m.weightsManifest[0].weights[0].shape = [3, 3, 64, 3])),
      'WEIGHTS_INVALID',
      /"block1_conv1\/kernel" has shape \[3,3,64,3\], expected \[3,3,3,64\]/,
    ],
    [
      'truncated shard',
      (d) => truncate(path.join(d, 'group1-shard5of13.bin'), 1000),
      'WEIGHTS_INVALID',
      /group1-shard5of13\.bin is truncated/,
    ],
    [
      'truncated last shard',
      (d) => truncate(path.join(d, 'group1-shard13of13.bin'), 10),
      'WEIGHTS_INVALID',
      /group1-shard13of13\.bin is truncated/,
    ],
    [
      'missing shard',
      (d) => unlink(path.join(d, 'group1-shard2of13.bin')),
      'WEIGHTS_INVALID',
      /group1-shard2of13\.bin is missing/,
    ],
    [
      'non-finite values',
      async (d) => {
        const shard = path.join(d, 'group1-shard1of13.bin');
        const bytes = await readFile(shard);
        bytes.writeFloatLE(Number.NaN, 40);
        await writeFile(shard, bytes);
      },
      'WEIGHTS_INVALID',
      /"block1_conv1\/kernel" holds NaN at index 10/,
    ],
    [
      'shard outside the directory',
      (d) => editManifest(d, (m) => (m.weightsManifest[0].paths[0] = '../escape.bin')),
      'WEIGHTS_INVALID',
      /must be a file inside the directory/,
    ],
    [
      'missing weights.json',
      (d) => unlink(path.join(d, MANIFEST_FILE)),
      'WEIGHTS_NOT_FOUND',
      /has no weights\.json/,
    ],
  ];

  it.each(cases)('%s', async (label, damage, code, message) => {
    const dir = await copyOf(label.replaceAll(' ', '-'));
    await damage(dir);
    const error = await loadError(dir);
    expect(error.code).toBe(code);
    expect(error.kind).toBe('input');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(dir);
    expect(error.message).toContain('npx nst weights fetch');
    expect(error.message).toContain('npx nst weights convert <file.h5> --out DIR');
  });

  it('names a missing directory', async () => {
    const dir = path.join(tmp, 'nowhere');
    const error = await loadError(dir);
    expect(error.code).toBe('WEIGHTS_NOT_FOUND');
    expect(error.message).toContain(`no weights directory at ${dir}`);
    expect(error.message).toContain('--weights DIR');
  });
});
