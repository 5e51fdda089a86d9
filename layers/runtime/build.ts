/**
 * Builds the native-runtime layer: the packages the stylize function leaves out of its esbuild bundle
 * because they load native binaries (onnxruntime-node, sharp), copied from this project's node_modules
 * with only the Linux binaries of one architecture, under `nodejs/node_modules/` (Lambda's module path
 * for layers, /opt/nodejs/node_modules).
 *
 * npm installs every platform's onnxruntime binaries (about 290 MB) but only the host's sharp package, so
 * the copy keeps onnxruntime's linux/<arch> folder and picks sharp's @img/sharp-linux-<arch> packages by
 * name. Dependencies are followed through package.json, skipping those only install scripts use.
 *
 * Run directly: `npx tsx layers/runtime/build.ts --out DIR [--arch x64|arm64]`.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../infra/paths.js';
import { NstError } from '../../src/errors.js';

export type LayerArch = 'x64' | 'arm64';

/** What the function imports from the layer (its esbuild `externalModules` besides absent optional ones). */
export const RUNTIME_PACKAGES = ['onnxruntime-node', 'sharp'] as const;

/** sharp's prebuilt binaries for Linux glibc (Amazon Linux), which npm installs only for the host. */
const SHARP_NATIVE: Record<LayerArch, readonly string[]> = {
  x64: ['@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64'],
  arm64: ['@img/sharp-linux-arm64', '@img/sharp-libvips-linux-arm64'],
};

/** Dependencies that only install scripts use (onnxruntime-node's downloader). */
const INSTALL_ONLY = new Set(['adm-zip', 'global-agent']);

/** Types, sources, maps and docs: nothing Node loads at run time. */
const DROPPED_EXTENSIONS = new Set([
  '.ts',
  '.mts',
  '.cts',
  '.map',
  '.md',
  '.cc',
  '.h',
  '.gyp',
  '.tsbuildinfo',
]);

/** GPU providers onnxruntime-node installs with ONNXRUNTIME_NODE_INSTALL=cuda12: hundreds of MB, useless on Lambda. */
const GPU_PROVIDER = /libonnxruntime_providers_(cuda|tensorrt)/;

interface RuntimeLayerOptions {
  readonly outDir: string;
  readonly arch?: LayerArch;
  /** The project whose node_modules is copied (default: this repository). */
  readonly projectRoot?: string;
}

interface RuntimeLayer {
  readonly dir: string;
  readonly arch: LayerArch;
  /** Package names copied, sorted. */
  readonly packages: readonly string[];
}

/** `onnxruntime-node/bin/napi-v6/linux/x64/` for x64: the only binary folder of that package kept. */
const onnxBinaryDir = (arch: LayerArch) => `bin/napi-v6/linux/${arch}`;

/** Whether `rel` (a path inside package `name`) belongs in the layer. Directories are asked too. */
function keep(name: string, rel: string, arch: LayerArch): boolean {
  if (rel === '') return true;
  const parts = rel.split(path.sep);
  if (parts.includes('node_modules')) return false; // nested packages are copied as packages of their own
  if (DROPPED_EXTENSIONS.has(path.extname(rel)) || GPU_PROVIDER.test(rel)) return false;
  if (name === 'onnxruntime-node') {
    if (parts[0] === 'script' || parts[0] === 'lib') return false;
    const wanted = onnxBinaryDir(arch);
    const posix = parts.join('/');
    if (parts[0] === 'bin') return wanted.startsWith(posix) || posix.startsWith(`${wanted}/`);
  }
  if (name === 'sharp' && (parts[0] === 'src' || parts[0] === 'install')) return false;
  return true;
}

/** Where `name` resolves from `fromDir`, as Node would: the nearest node_modules/<name> upwards. */
function findPackage(name: string, fromDir: string, root: string): string | undefined {
  for (let dir = fromDir; dir.startsWith(root); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root) break;
  }
  return undefined;
}

async function readManifest(dir: string): Promise<PackageManifest> {
  return JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as PackageManifest;
}

interface PackageManifest {
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/**
 * npm installs sharp's binaries for the host only (and onnxruntime-node ships linux/x64 and linux/arm64),
 * so another architecture needs its packages added by hand, at the versions sharp pins.
 */
async function checkNativePackages(root: string, arch: LayerArch): Promise<void> {
  const missing = SHARP_NATIVE[arch].filter((name) => !findPackage(name, root, root));
  const onnx = findPackage('onnxruntime-node', root, root);
  const onnxMissing = onnx && !existsSync(path.join(onnx, onnxBinaryDir(arch), 'onnxruntime_binding.node'));
  if (missing.length === 0 && !onnxMissing) return;
  const sharp = findPackage('sharp', root, root);
  const pinned = sharp ? ((await readManifest(sharp)).optionalDependencies ?? {}) : {};
  const specs = missing.map((name) => (pinned[name] ? `${name}@${pinned[name]}` : name));
  const lambdaArch = arch === 'x64' ? 'x86_64' : 'arm64';
  throw new NstError(
    'INVALID_OPTION',
    `The runtime layer for Lambda ${lambdaArch} needs Linux ${arch} binaries that are not installed: ` +
      [...specs, ...(onnxMissing ? [`onnxruntime-node's ${onnxBinaryDir(arch)}`] : [])].join(', ') +
      '. ' +
      (specs.length > 0
        ? `Add them with \`npm install --no-save --force ${specs.join(' ')}\`, or deploy `
        : 'Deploy ') +
      'for x86_64 (the default: drop `-c architecture=arm64`).',
  );
}

/** The package directories to copy: the roots, sharp's native packages and their dependencies. */
async function closure(root: string, arch: LayerArch): Promise<Map<string, string>> {
  await checkNativePackages(root, arch);
  const found = new Map<string, string>(); // package dir -> name
  const queue = [...RUNTIME_PACKAGES, ...SHARP_NATIVE[arch]].map((name) => ({ name, from: root }));
  for (let item = queue.shift(); item; item = queue.shift()) {
    const dir = findPackage(item.name, item.from, root);
    if (!dir) {
      throw new NstError(
        'INTERNAL',
        `${item.name} is not installed: run \`npm ci\` before building the layer.`,
      );
    }
    if (found.has(dir)) continue;
    found.set(dir, item.name);
    for (const dep of Object.keys((await readManifest(dir)).dependencies ?? {})) {
      if (!INSTALL_ONLY.has(dep)) queue.push({ name: dep, from: dir });
    }
  }
  return found;
}

/** Builds the layer into `outDir` (replaced as a whole). */
export async function buildRuntimeLayer(opts: RuntimeLayerOptions): Promise<RuntimeLayer> {
  const arch = opts.arch ?? 'x64';
  const root = path.resolve(opts.projectRoot ?? REPO_ROOT);
  const packages = await closure(root, arch);
  const dir = path.resolve(opts.outDir);
  await rm(dir, { recursive: true, force: true });
  const target = path.join(dir, 'nodejs');
  await mkdir(target, { recursive: true });
  for (const [source, name] of packages) {
    // Keep npm's layout (hoisted or nested) so Node resolves exactly as it does here.
    await cp(source, path.join(target, path.relative(root, source)), {
      recursive: true,
      dereference: true,
      filter: (file) => keep(name, path.relative(source, file), arch),
    });
  }
  return { dir, arch, packages: [...new Set(packages.values())].sort() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, arch: { type: 'string' } } });
  const arch = values.arch ?? 'x64';
  if (!values.out || (arch !== 'x64' && arch !== 'arm64')) {
    throw new NstError('INVALID_OPTION', 'usage: build.ts --out DIR [--arch x64|arm64]');
  }
  const layer = await buildRuntimeLayer({ outDir: values.out, arch });
  console.log(`runtime layer (linux-${layer.arch}): ${layer.dir}\n  ${layer.packages.join('\n  ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}
