/**
 * The Batch worker's image file system without Docker: the Dockerfile's COPY instructions applied to the
 * build context (test/helpers/dockerfile.ts), and node_modules as its RUN steps leave it: `npm ci
 * --omit=...` installs the lockfile's packages less the omitted kinds, hard-linked from this checkout's
 * node_modules (same files, no copies), then `rm -rf node_modules/...` removes what it names. A package the
 * image would not have is simply not there, so a worker that needs a devDependency (or an omitted optional
 * one, such as a native binary) at run time fails as it would. Any other RUN step that touches node_modules
 * is refused, so the layout cannot silently drift from the image.
 *
 * Not modelled: onnxruntime-node's CUDA install (it downloads the GPU provider, which cannot be had
 * offline: here the CPU provider runs, and the Dockerfile's `test -f` of the provider is not evaluated)
 * and node_modules/.bin (nothing in the image runs a dependency's command).
 */
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import path from 'node:path';
import { BATCH_IMAGE } from '../../infra/paths.js';
import {
  type Dockerfile,
  filesUnder,
  inBuildContext,
  type NpmCi,
  npmCiOf,
  type RunStep,
} from './dockerfile.js';

/** The kinds of `--omit=` and the flags the model knows (what else `npm ci` is given is refused). */
const KNOWN_FLAGS = new Set(['--ignore-scripts']);

interface LockPackage {
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly devOptional?: boolean;
  readonly peer?: boolean;
  readonly link?: boolean;
}

type Lock = Readonly<Record<string, LockPackage>>;

const readLock = (lockfile: string): Lock =>
  (JSON.parse(readFileSync(lockfile, 'utf8')) as { packages: Lock }).packages;

/**
 * The package folders (lockfile keys, `node_modules/...`) that `npm ci` installs with these omissions: a
 * package flagged dev, optional or peer is left out when that kind is omitted; devOptional (needed only by
 * the dev tree and optional edges) when both dev and optional are.
 */
function installedPackages(lock: Lock, ci: NpmCi): string[] {
  const unknown = ci.flags.filter((f) => !KNOWN_FLAGS.has(f));
  if (unknown.length > 0) throw new Error(`npm ci ${unknown.join(' ')}: not modelled`);
  const omit = new Set(ci.omit);
  return Object.entries(lock)
    .filter(([key, p]) => {
      if (key === '' || p.link) return false;
      if (p.dev && omit.has('dev')) return false;
      if (p.optional && omit.has('optional')) return false;
      if (p.devOptional && omit.has('dev') && omit.has('optional')) return false;
      if (p.peer && omit.has('peer')) return false;
      return true;
    })
    .map(([key]) => key);
}

export interface ImageLayout {
  /** The image's WORKDIR (e.g. /app) as a folder here. */
  readonly workdir: string;
  /** Package folders installed (lockfile keys). */
  readonly packages: readonly string[];
  /** Optional packages the lockfile lists that this checkout did not install either (another platform). */
  readonly skippedOptional: readonly string[];
}

/**
 * Lays out what the image holds under WORKDIR into `root` + WORKDIR. Every COPY must land under WORKDIR
 * (the test binds only that folder).
 */
export function layOutImage(dockerfile: Dockerfile, root: string): ImageLayout {
  const packages = new Set<string>();
  const skippedOptional: string[] = [];
  // Every step is checked before anything is laid out: a step the model refuses leaves nothing behind.
  const steps = dockerfile.runs.map((step) => {
    const ci = npmCiOf(step);
    if (ci) return () => installPackages(ci, root, packages, skippedOptional);
    if (REMOVE.test(step.command)) return removal(step, root, packages);
    if (LEAVES_NODE_MODULES.some((pattern) => pattern.test(step.command))) return () => {};
    throw new Error(`RUN ${step.command}: changes node_modules in a way ${MODEL} does not model`);
  });
  const workdir = path.join(root, dockerfile.workdir);
  mkdirSync(workdir, { recursive: true, mode: 0o755 });
  for (const copy of dockerfile.copies) {
    if (!`${copy.dest}/`.startsWith(`${dockerfile.workdir}/`)) {
      throw new Error(`COPY to ${copy.dest}: outside WORKDIR ${dockerfile.workdir}, not modelled`);
    }
    for (const source of copy.sources) copyFromContext(source, copy, root);
  }
  for (const apply of steps) apply();
  return { workdir, packages: [...packages], skippedOptional };
}

const MODEL = 'test/helpers/batch-image.ts';
/** `rm -rf` naming node_modules: modelled (for paths under WORKDIR's node_modules). */
const REMOVE = /^rm -rf\s.*node_modules/;
/**
 * RUN steps that leave node_modules as it is, or that change it in a way this model states it cannot
 * follow (see the header). A step not matched here that names node_modules or a package manager is refused.
 */
const LEAVES_NODE_MODULES = [
  /^ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install$/,
  /^test -[ef] \S+$/,
  /^npm cache clean --force$/,
  /^(?!.*node_modules)(?!.*\b(npm|npx|yarn|pnpm|corepack)\b)/,
];

/** `npm ci`: the lockfile's packages less the omitted kinds, as this checkout installed them. */
function installPackages(ci: NpmCi, root: string, packages: Set<string>, skippedOptional: string[]): void {
  const lockfile = path.join(root, ci.dir, 'package-lock.json');
  if (!existsSync(lockfile)) throw new Error(`npm ci in ${ci.dir}: the image has no package-lock.json there`);
  const lock = readLock(lockfile);
  const from = realpathSync(path.join(BATCH_IMAGE.directory, 'node_modules'));
  for (const key of installedPackages(lock, ci)) {
    const source = path.join(from, key.slice('node_modules/'.length));
    if (!existsSync(source)) {
      if (lock[key].optional || lock[key].devOptional) {
        // npm skips an optional package it cannot install (another platform, a failed build); so did this checkout
        skippedOptional.push(key);
        continue;
      }
      throw new Error(`${key} is in the lockfile but not in ${from}: run npm ci`);
    }
    linkTree(source, path.join(root, ci.dir, key));
    packages.add(key);
  }
}

/** `rm -rf node_modules/...`: the folders go, and every package at or under them. */
function removal(step: RunStep, root: string, packages: Set<string>): () => void {
  const keys = step.command
    .split(/\s+/)
    .slice(2)
    .map((target) => {
      const key = path.posix.relative(step.dir, path.posix.resolve(step.dir, target));
      if (!/^node_modules\/[^.]/.test(key) || key.includes('*')) {
        throw new Error(`RUN ${step.command}: removes ${target}, not a node_modules path ${MODEL} models`);
      }
      return key;
    });
  return () => {
    for (const key of keys) {
      rmSync(path.join(root, step.dir, key), { recursive: true, force: true });
      for (const p of packages) if (p === key || p.startsWith(`${key}/`)) packages.delete(p);
    }
  };
}

/** One COPY source: its files that are in the build context, to where Docker puts them. */
function copyFromContext(source: string, copy: Dockerfile['copies'][number], root: string): void {
  const sourcePath = path.join(BATCH_IMAGE.directory, source);
  const files = filesUnder(source).filter(inBuildContext);
  if (files.length === 0) throw new Error(`COPY ${source}: nothing in the build context`);
  const isFile = files.length === 1 && files[0] === sourcePath;
  for (const file of files) {
    const dest = isFile
      ? copy.dest.endsWith('/')
        ? path.posix.join(copy.dest, path.basename(file))
        : copy.dest
      : path.posix.join(copy.dest, path.relative(sourcePath, file));
    const target = path.join(root, dest);
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    copyFileSync(file, target);
  }
}

/**
 * Hard-links a package's files (same file system: instant, no space), recreating its symbolic links;
 * its nested node_modules are packages of their own in the lockfile and laid out only when installed.
 */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o755 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name === 'node_modules' && entry.isDirectory()) continue;
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isSymbolicLink()) symlinkSync(readlinkSync(source), target);
    else if (entry.isDirectory()) linkTree(source, target);
    else {
      try {
        linkSync(source, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        copyFileSync(source, target); // another file system: copy
      }
    }
  }
}
