/** tfjs backend selection (backend.ts): NST_TFJS_BACKEND forces a backend, tried in a fresh process. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * tfjs-node works when its native binding is there: its install script downloads libtensorflow and builds
 * lib/napi-v<n>/tfjs_binding.node, and package.json's allowScripts denies that script, so the package can be
 * installed without it.
 */
function tfjsNodeUsable(): boolean {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json');
  } catch {
    return false;
  }
  const lib = path.join(path.dirname(packageJson), 'lib');
  return existsSync(lib) && readdirSync(lib).some((d) => existsSync(path.join(lib, d, 'tfjs_binding.node')));
}

describe('tfjs backend selection', () => {
  it('NST_TFJS_BACKEND forces wasm or node, and rejects anything else', async () => {
    // loadTf is memoised per process, so each choice is tried in a fresh one.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'nst-tfjs-'));
    try {
      const script = path.join(dir, 'choose.mjs');
      const backendUrl = pathToFileURL(path.resolve('src/engine/tfjs/backend.ts')).href;
      await writeFile(
        script,
        `const { loadTf } = await import(${JSON.stringify(backendUrl)});
        const out = {};
        for (const choice of ['bogus', 'node', 'wasm']) {
          process.env.NST_TFJS_BACKEND = choice;
          try { out[choice] = (await loadTf()).backend; } catch (e) { out[choice] = e.code; }
        }
        console.log(JSON.stringify(out));`,
      );
      const output = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
      const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
      expect(result).toEqual({
        bogus: 'INVALID_OPTION',
        node: tfjsNodeUsable() ? 'tfjs-node' : 'ENGINE_UNAVAILABLE',
        wasm: 'tfjs-wasm',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
