import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntimeLayer } from '../../../layers/runtime/build.js';
import { GraphBuilder } from '../../../src/engine/onnx/graph-builder.js';
import { NstError } from '../../../src/errors.js';
import { listFiles } from '../../infra/helpers.js';

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

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-runtime-layer-'));
  runtimeDir = path.join(tmp, 'runtime');
  await buildRuntimeLayer({ outDir: runtimeDir, arch: 'x64' });
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
