/**
 * `npx cdk synth` as a user runs it, offline: the app (built first) builds the real layers, esbuild bundles the
 * function, cdk-nag checks the app, and the GPU image is only recorded. A stand-in `docker` on PATH
 * records any call, proxies point nowhere, so neither Docker nor the network can be used unnoticed.
 * The weights are the real ones (../shared/models/vgg19) when present, else generated ones of the same shapes.
 *
 * The synth takes about 20 s, and test files read its cloud assembly (test/infra/app.test.ts, the sizes;
 * test/deployed/, the functions run as Lambda runs them; the stylize function's with a key prefix, a second
 * assembly), so it runs once per set of inputs: the assembly is kept under os.tmpdir() keyed by a hash of
 * everything the synth reads (infra/, functions/, src/, layers/, the package and cdk files, the context
 * given, the weights), and a lock file makes a
 * second process wait for the first instead of synthesising again. Not the Node version running the
 * tests: the output does not depend on it (esbuild's target is fixed, infra/node-runtime.ts; the layer's
 * native modules are N-API), so CI's Node 24 pass reuses the first pass's assembly.
 *
 * Every call removes the assemblies of other keys unused for an hour. The current key's is in use, so it
 * stays until a later run with other inputs finds it unused that long: nothing runs between test runs to
 * remove it sooner, and keeping it is what lets the next run with the same inputs skip the synth.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../infra/paths.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { MANIFEST_FILE } from '../../src/weights/manifest.js';
import { writeWeights } from '../../src/weights/store.js';
import { SHARED_WEIGHTS } from './shared.js';

/** cdk.json's stackName. */
export const STACK = 'ServerlessStyleTransfer';

export interface SynthesisedApp {
  /** The cloud assembly (cdk.out). */
  readonly out: string;
  /** What the stand-in docker recorded: empty when the synth never called it. */
  readonly dockerCalls: string;
  /** The synth's stdout and stderr. */
  readonly output: string;
  /** Whether the vgg19 layer holds the real weights (else generated ones of the same shapes). */
  readonly realWeights: boolean;
  /** How long the synth took. */
  readonly seconds: number;
  /** Whether an earlier process synthesised it (this one only read the assembly). */
  readonly reused: boolean;
}

/** Bump when this helper changes what it writes. */
const HELPER_VERSION = 1;
const CACHE_ROOT = path.join(os.tmpdir(), 'nst-cdk-synth');
/** The synth's own inputs, relative to the repository. */
const INPUT_DIRS = ['infra', 'functions', 'src', 'layers'];
const INPUT_FILES = ['cdk.json', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
const WAIT_LIMIT_MS = 200_000;
/** Other keys' assemblies unused this long are removed (other checkouts may be using theirs). */
const STALE_MS = 60 * 60 * 1000;
const RESULT_FILE = 'synth.json';

const hasRealWeights = () => existsSync(path.join(SHARED_WEIGHTS, MANIFEST_FILE));

/**
 * The cloud assembly for the repository as it is now with cdk.json's settings, and `context` over them
 * (`-c key=value`, as a user overrides one), synthesised by this process or an earlier one.
 */
export async function synthesisedApp(
  context: Readonly<Record<string, string>> = {},
): Promise<SynthesisedApp> {
  const key = await inputsKey(context);
  const dir = path.join(CACHE_ROOT, key);
  const lock = `${dir}.lock`;
  await mkdir(CACHE_ROOT, { recursive: true });
  const giveUp = Date.now() + WAIT_LIMIT_MS;
  while (Date.now() < giveUp) {
    const done = await readResult(dir);
    if (done) {
      await pruneStale(key);
      return { ...done, reused: true };
    }
    if (await takeLock(lock)) {
      try {
        const fresh = (await readResult(dir)) ?? (await synthInto(dir, context));
        await pruneStale(key);
        return { ...fresh, reused: false };
      } finally {
        await rm(lock, { force: true });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`gave up waiting for ${lock}: another process is still synthesising`);
}

async function readResult(dir: string): Promise<Omit<SynthesisedApp, 'reused'> | undefined> {
  const file = path.join(dir, RESULT_FILE);
  if (!existsSync(file)) return undefined;
  const now = new Date();
  await utimes(dir, now, now); // in use: not stale
  return { ...JSON.parse(await readFile(file, 'utf8')), out: path.join(dir, 'cdk.out') };
}

/** Creates the lock file, or removes it when the process that holds it is gone; true when taken. */
async function takeLock(lock: string): Promise<boolean> {
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
  if (holder > 0 && !isAlive(holder)) await rm(lock, { force: true });
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A hash of every file the synth reads from the repository, the context given and the weights' identity. */
async function inputsKey(context: Readonly<Record<string, string>>): Promise<string> {
  const h = createHash('sha256').update(String(HELPER_VERSION)).update(JSON.stringify(context));
  const files = [...INPUT_FILES, ...(await Promise.all(INPUT_DIRS.map((d) => filesUnder(d)))).flat()];
  for (const file of files.sort()) {
    h.update(`\0${file}\0`).update(await readFile(path.join(REPO_ROOT, file)));
  }
  if (hasRealWeights()) {
    for (const file of (await readdir(SHARED_WEIGHTS)).sort()) {
      const { size, mtimeMs } = await stat(path.join(SHARED_WEIGHTS, file));
      h.update(`\0weights/${file}:${size}:${mtimeMs}`);
    }
  } else {
    h.update('\0generated weights');
  }
  return h.digest('hex').slice(0, 16);
}

async function filesUnder(rel: string): Promise<string[]> {
  const entries = await readdir(path.join(REPO_ROOT, rel), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? filesUnder(path.join(rel, e.name)) : Promise.resolve([path.join(rel, e.name)]),
    ),
  );
  return nested.flat();
}

/** Runs the synth into a fresh folder that becomes `dir` only when it succeeded. */
async function synthInto(
  dir: string,
  context: Readonly<Record<string, string>>,
): Promise<Omit<SynthesisedApp, 'reused'>> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  try {
    const result = await synth(tmp, context);
    // The layers' build folders: cdk.out holds copies of both.
    await rm(path.join(tmp, 'layers'), { recursive: true, force: true });
    await rm(path.join(tmp, 'weights'), { recursive: true, force: true });
    await writeFile(path.join(tmp, RESULT_FILE), JSON.stringify(result));
    await rename(tmp, dir);
    return { ...result, out: path.join(dir, 'cdk.out') };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function synth(
  tmp: string,
  context: Readonly<Record<string, string>>,
): Promise<Omit<SynthesisedApp, 'reused' | 'out'>> {
  const dockerLog = path.join(tmp, 'docker-calls.log');
  const docker = path.join(tmp, 'docker');
  await writeFile(docker, `#!/bin/sh\necho "docker $*" >> "${dockerLog}"\nexit 1\n`);
  await chmod(docker, 0o755);
  const realWeights = hasRealWeights();
  let weightsDir = SHARED_WEIGHTS;
  if (!realWeights) {
    // Generated weights have the real shapes, so the layer has the real size.
    console.log(
      `no real weights at ${SHARED_WEIGHTS}: synthesising with generated weights of the same shapes`,
    );
    weightsDir = path.join(tmp, 'weights');
    await writeWeights(weightsDir, generateVggWeights(1));
  }
  const args = ['cdk', 'synth', '--quiet', '--output', path.join(tmp, 'cdk.out')];
  for (const [key, value] of Object.entries({
    ...context,
    weightsDir,
    layerBuildDir: path.join(tmp, 'layers'),
  })) {
    args.push('--context', `${key}=${value}`);
  }
  const started = performance.now();
  const { stdout, stderr } = await promisify(execFile)('npx', args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PATH: `${tmp}${path.delimiter}${process.env.PATH}`,
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      npm_config_offline: 'true',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  const seconds = (performance.now() - started) / 1000;
  const dockerCalls = existsSync(dockerLog) ? await readFile(dockerLog, 'utf8') : '';
  return { dockerCalls, output: stdout + stderr, realWeights, seconds };
}

/**
 * Removes other keys' assemblies unused for STALE_MS (not while a process holds their lock), and folders
 * of synths whose process is gone.
 */
async function pruneStale(key: string): Promise<void> {
  for (const entry of await readdir(CACHE_ROOT)) {
    if (entry.startsWith(key) || entry.endsWith('.lock')) continue;
    const full = path.join(CACHE_ROOT, entry);
    const tmpOf = /\.tmp-(\d+)$/.exec(entry);
    const stale = tmpOf
      ? !isAlive(Number(tmpOf[1]))
      : Date.now() - (await stat(full)).mtimeMs > STALE_MS && !existsSync(`${full}.lock`);
    if (stale) await rm(full, { recursive: true, force: true });
  }
}
