import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config.js';
import { prepareLayers } from '../../infra/layers.js';
import { buildRuntimeLayer } from '../../layers/runtime/build.js';
import { buildVgg19Layer } from '../../layers/vgg19/build.js';
import { GraphBuilder } from '../../src/engine/onnx/graph-builder.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { NstError } from '../../src/errors.js';
import { MANIFEST_FILE } from '../../src/weights/manifest.js';
import { loadWeights, writeWeights } from '../../src/weights/store.js';
import { listFiles } from './helpers.js';

/** ELF e_machine of a shared object: 0x3e x86-64, 0xb7 AArch64. */
const elfMachine = (file: string) => readFileSync(file).readUInt16LE(18);
const X86_64 = 0x3e;

/** `nodejs/node_modules/@img/colour/index.cjs` -> `@img/colour`. */
function packageOf(file: string): string {
  const [scopeOrName, name] = file.split('/').slice(2);
  return scopeOrName.startsWith('@') ? `${scopeOrName}/${name}` : scopeOrName;
}

let tmp: string;
let runtimeDir: string;
/** Float32 weights of the right shapes (generated), the layer's source. */
let weightsDir: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-layers-'));
  runtimeDir = path.join(tmp, 'runtime');
  await buildRuntimeLayer({ outDir: runtimeDir, arch: 'x64' });
  weightsDir = path.join(tmp, 'weights-f32');
  await writeWeights(weightsDir, generateVggWeights(3));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('runtime layer', () => {
  it('holds onnxruntime-node and sharp with only their Linux x64 binaries, under nodejs/node_modules', () => {
    const files = listFiles(runtimeDir);
    expect(files.every((f) => f.startsWith('nodejs/node_modules/'))).toBe(true);
    expect([...new Set(files.map(packageOf))].sort()).toEqual([
      '@img/colour',
      '@img/sharp-libvips-linux-x64',
      '@img/sharp-linux-x64',
      'detect-libc',
      'onnxruntime-common',
      'onnxruntime-node',
      'semver',
      'sharp',
    ]);
    const binaries = files.filter((f) => /\.(node|so(\.\d+)*)$/.test(f));
    expect(binaries.length).toBeGreaterThanOrEqual(4);
    for (const binary of binaries) expect(elfMachine(path.join(runtimeDir, binary)), binary).toBe(X86_64);
    expect(files.filter((f) => f.includes('onnxruntime-node/bin/'))).toEqual([
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    ]);
    // Install-time helpers, sources and maps stay out.
    expect(files.some((f) => /adm-zip|global-agent|\.map$|\.d\.ts$|sharp\/src\//.test(f))).toBe(false);
  });

  it('loads on its own: onnxruntime runs a model and sharp encodes, with no other node_modules', () => {
    const graph = new GraphBuilder('double');
    graph.output('y', graph.op('Mul', [graph.input('x', [2]), graph.scalar(2)]), [2]);
    const modules = path.join(runtimeDir, 'nodejs', 'node_modules');
    const script = `
      const ort = require(${JSON.stringify(path.join(modules, 'onnxruntime-node'))});
      const sharp = require(${JSON.stringify(path.join(modules, 'sharp'))});
      (async () => {
        const session = await ort.InferenceSession.create(Buffer.from(process.env.MODEL, 'base64'));
        const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1.5, -4), [2]) });
        const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: 'red' } }).png().toBuffer();
        const meta = await sharp(png).metadata();
        console.log(JSON.stringify({ y: Array.from(y.data), format: meta.format, width: meta.width }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: os.tmpdir(),
      env: { PATH: process.env.PATH ?? '', MODEL: Buffer.from(graph.encode()).toString('base64') },
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ y: [3, -8], format: 'png', width: 4 });
  });

  it('refuses arm64 without the arm64 binaries, saying how to get them', async () => {
    const error = await buildRuntimeLayer({ outDir: path.join(tmp, 'arm'), arch: 'arm64' }).catch((e) => e);
    expect(error).toBeInstanceOf(NstError);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain('npm install --no-save --force @img/sharp-linux-arm64@0.35.5');
    expect(error.message).toContain('@img/sharp-libvips-linux-arm64@');
    expect(existsSync(path.join(tmp, 'arm'))).toBe(false);
  });
});

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

describe('layer cache', () => {
  it('builds both layers once and reuses them until their sources change', async () => {
    const config = parseConfig({ layerBuildDir: path.join(tmp, 'cache'), weightsDir });
    const first = await prepareLayers(config);
    const stamp = (await stat(path.join(first.vgg19, 'vgg19', MANIFEST_FILE))).mtimeMs;
    const second = await prepareLayers(config);
    expect(second).toEqual(first);
    expect((await stat(path.join(second.vgg19, 'vgg19', MANIFEST_FILE))).mtimeMs).toBe(stamp);

    const float32 = await prepareLayers({ ...config, weightsFloat16: false });
    expect(float32.vgg19).not.toBe(first.vgg19);
    expect(existsSync(first.vgg19)).toBe(false); // the stale build is gone
    expect(float32.runtime).toBe(first.runtime);
  });
});
