import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config.js';
import { buildLayers } from '../../infra/layer-cache.js';
import { MANIFEST_FILE } from '../../src/weights/manifest.js';
import { generatedWeights } from './helpers.js';

let tmp: string;
/** Float32 weights of the right shapes (generated), the vgg19 layer's source. */
let weightsDir: string;

beforeAll(async () => {
  ({ tmp, weightsDir } = await generatedWeights('nst-layer-cache-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('layer cache', () => {
  it('builds both layers once and reuses them until their sources change', async () => {
    const config = parseConfig({ layerBuildDir: path.join(tmp, 'cache'), weightsDir });
    const first = await buildLayers(config);
    const stamp = (await stat(path.join(first.vgg19, 'vgg19', MANIFEST_FILE))).mtimeMs;
    const second = await buildLayers(config);
    expect(second).toEqual(first);
    expect((await stat(path.join(second.vgg19, 'vgg19', MANIFEST_FILE))).mtimeMs).toBe(stamp);

    const float32 = await buildLayers({ ...config, weightsFloat16: false });
    expect(float32.vgg19).not.toBe(first.vgg19);
    expect(existsSync(first.vgg19)).toBe(false); // the stale build is gone
    expect(float32.runtime).toBe(first.runtime);
  });
});
