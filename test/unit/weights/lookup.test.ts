import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_WEIGHTS_DIR, resolveWeightsDir, weightsAvailable } from '../../../src/weights/lookup.js';
import { MANIFEST_FILE } from '../../../src/weights/manifest.js';

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-weights-test-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('resolveWeightsDir', () => {
  let root: string;
  let env: string;
  let lambda: string;
  let cwd: string;

  beforeAll(async () => {
    root = path.join(tmp, 'lookup');
    [env, lambda, cwd] = ['env', 'opt/vgg19', 'project'].map((p) => path.join(root, p));
    for (const dir of [env, lambda, path.join(cwd, 'models', 'vgg19')]) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, MANIFEST_FILE), '{}');
    }
  });

  const resolve = (opts: { flag?: string; envDir?: string; lambdaDir?: string }) =>
    resolveWeightsDir({
      flag: opts.flag,
      env: opts.envDir ? { NST_WEIGHTS_DIR: opts.envDir } : {},
      cwd,
      lambdaDir: opts.lambdaDir ?? lambda,
    });

  it('takes --weights first, as given, even when it does not exist', () => {
    expect(resolve({ flag: '/no/such/dir', envDir: env })).toBe('/no/such/dir');
    expect(resolve({ flag: 'relative/w', envDir: env })).toBe(path.join(cwd, 'relative/w'));
  });

  it('then NST_WEIGHTS_DIR (as given, like the flag), then the Lambda layer, then ./models/vgg19', () => {
    expect(resolve({ envDir: env })).toBe(env);
    expect(resolve({})).toBe(lambda);
    // A set NST_WEIGHTS_DIR without weights is used as given, so loading names it instead of silently
    // falling back to other weights.
    expect(resolve({ envDir: path.join(root, 'empty') })).toBe(path.join(root, 'empty'));
    expect(resolve({ lambdaDir: path.join(root, 'no-layer') })).toBe(path.join(cwd, 'models', 'vgg19'));
    expect(LAMBDA_WEIGHTS_DIR).toBe('/opt/vgg19');
  });

  it('lists every place it looked when none has weights', () => {
    const nowhere = {
      env: {},
      cwd: root,
      lambdaDir: path.join(root, 'no-layer'),
    };
    let error: unknown;
    try {
      resolveWeightsDir(nowhere);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'WEIGHTS_NOT_FOUND' });
    const message = (error as Error).message;
    for (const place of [
      'NST_WEIGHTS_DIR',
      path.join(root, 'no-layer'),
      path.join(root, 'models', 'vgg19'),
    ]) {
      expect(message).toContain(place);
    }
    expect(message).toContain('npx nst weights fetch');
    expect(weightsAvailable(nowhere)).toBe(false);
    expect(weightsAvailable({ env: {}, cwd, lambdaDir: path.join(root, 'no-layer') })).toBe(true);
    expect(weightsAvailable({ flag: '/no/such/dir', cwd })).toBe(false);
  });
});
