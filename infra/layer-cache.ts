/**
 * Builds the two Lambda layers before synth and caches them: a layer is rebuilt only when what it is
 * made from changes (the weights files for vgg19; package-lock.json and the architecture for runtime),
 * so a repeated `cdk synth` or `cdk diff` costs a hash, not a 90 MB copy.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { buildRuntimeLayer, type LayerArch } from '../layers/runtime/build.js';
import { buildVgg19Layer, withDeployHint } from '../layers/vgg19/build.js';
import { resolveWeightsDir } from '../src/weights/lookup.js';
import { MANIFEST_FILE } from '../src/weights/manifest.js';
import type { NstConfig } from './config.js';
import type { LayerDirs } from './constructs/layers.js';
import { LOCK_FILE, REPO_ROOT } from './paths.js';

/** The settings the layer builds depend on. */
type LayerSettings = Pick<NstConfig, 'layerBuildDir' | 'architecture' | 'weightsDir' | 'weightsFloat16'>;

/** Bump to invalidate cached layers when a builder changes what it writes. */
const BUILDER_VERSION = 1;

const hash = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256').update(String(BUILDER_VERSION));
  for (const part of parts) h.update(part);
  return h.digest('hex').slice(0, 16);
};

/** The weights' identity: the manifest plus every file's name, size and modification time. */
async function weightsKey(dir: string, float16: boolean): Promise<string> {
  const files = (await readdir(dir)).sort();
  const stats = await Promise.all(
    files.map(async (f) => {
      const { size, mtimeMs } = await stat(path.join(dir, f));
      return `${f}:${size}:${mtimeMs}`;
    }),
  );
  return hash(await readFile(path.join(dir, MANIFEST_FILE)), stats.join(','), String(float16));
}

/** `build` fills a fresh folder; it becomes `<cacheDir>/<name>-<key>` and older builds of `name` go. */
async function cached(cacheDir: string, name: string, key: string, build: (dir: string) => Promise<void>) {
  const dir = path.join(cacheDir, `${name}-${key}`);
  if (existsSync(dir)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await build(tmp);
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  for (const entry of await readdir(cacheDir)) {
    if (entry.startsWith(`${name}-`) && path.join(cacheDir, entry) !== dir) {
      await rm(path.join(cacheDir, entry), { recursive: true, force: true });
    }
  }
  return dir;
}

/** Both layer folders, built into `settings.layerBuildDir` unless a build from the same sources is there. */
export async function buildLayers(settings: LayerSettings): Promise<LayerDirs> {
  const cacheDir = path.resolve(REPO_ROOT, settings.layerBuildDir);
  return {
    runtime: await runtimeLayer(cacheDir, settings.architecture === 'arm64' ? 'arm64' : 'x64'),
    vgg19: await vgg19Layer(cacheDir, settings),
  };
}

async function runtimeLayer(cacheDir: string, arch: LayerArch): Promise<string> {
  const lock = await readFile(LOCK_FILE);
  return cached(cacheDir, `runtime-${arch}`, hash(lock, arch), async (outDir) => {
    await buildRuntimeLayer({ outDir, arch });
  });
}

async function vgg19Layer(cacheDir: string, settings: LayerSettings): Promise<string> {
  let weightsDir: string;
  try {
    weightsDir = settings.weightsDir ? path.resolve(REPO_ROOT, settings.weightsDir) : resolveWeightsDir();
  } catch (e) {
    throw withDeployHint(e);
  }
  const key = existsSync(path.join(weightsDir, MANIFEST_FILE))
    ? await weightsKey(weightsDir, settings.weightsFloat16)
    : 'missing';
  return cached(cacheDir, 'vgg19', key, async (outDir) => {
    await buildVgg19Layer({ outDir, weightsDir, float16: settings.weightsFloat16 });
  });
}
