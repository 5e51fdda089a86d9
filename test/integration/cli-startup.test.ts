/**
 * Commands load only what they use (docs/ARCHITECTURE.md, "The command line"): help and argument errors
 * load the commands' flags and nothing heavy; a command loads its own dependencies when it runs. Checked
 * by the modules the process resolves, never by time (`npm run bench -- --startup` measures that).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/paths.js';

const BIN = path.join(REPO_ROOT, 'bin/nst.js');
const TRACE_HOOK = path.join(REPO_ROOT, 'test/helpers/module-trace.mjs');
/** The packages that make a start slow: the engines, image I/O, the AWS SDK, the local S3 server. */
const HEAVY = [
  'sharp',
  'onnxruntime-node',
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-backend-wasm',
  'h5wasm',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-sns',
  '@aws-lambda-powertools/logger',
  's3rver',
  'cli-progress',
];

let temp: string;
beforeAll(async () => {
  temp = await mkdtemp(path.join(tmpdir(), 'nst-startup-'));
});
afterAll(() => rm(temp, { recursive: true, force: true }));

/** The packages (node_modules folders) and the files of dist/ that `nst ...args` loaded. */
async function loaded(args: string[]): Promise<{ packages: Set<string>; code: number }> {
  const trace = path.join(temp, `${args.join('_').replace(/\W/g, '')}.txt`);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TRACE_HOOK, BIN, ...args], {
      cwd: temp,
      env: { ...process.env, NST_MODULE_TRACE: trace, NST_WEIGHTS_DIR: '' },
      stdio: 'ignore',
    });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? -1));
  });
  const urls = (await readFile(trace, 'utf8').catch(() => '')).split('\n');
  const packages = new Set(
    urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((p) => p !== undefined),
  );
  return { packages, code };
}

const heavyIn = (packages: Set<string>) => HEAVY.filter((p) => packages.has(p));

describe('what a command loads', () => {
  it.each([
    [['--help']],
    [['stylize', '--help']],
    [['serve', '--help']],
    [['submit', '--help']],
    [['status', '--help']],
    [['weights', 'fetch', '--help']],
    [['stylize', '--bogus']],
  ])('nst %j loads commander and zod, none of the engines, sharp, the AWS SDK or s3rver', async (args) => {
    const { packages, code } = await loaded(args);
    expect(code).toBe(args.includes('--bogus') ? 2 : 0);
    expect(packages.has('commander')).toBe(true); // the trace works
    expect(heavyIn(packages)).toEqual([]);
  });

  it('nst status loads the S3 client but not the engines, sharp or s3rver', async () => {
    const { packages } = await loaded(['status', 'nope', '--endpoint', 'http://127.0.0.1:1']);
    expect(heavyIn(packages)).toEqual(['@aws-sdk/client-s3']);
  });

  it('nst stylize --dry-run loads sharp to read the images, not the AWS SDK or s3rver', async () => {
    const example = (name: string) => path.join(REPO_ROOT, 'examples', name);
    const args = ['stylize', '-c', example('content.jpg'), '-s', example('style.jpg'), '-o', 'out.jpg'];
    const { packages, code } = await loaded([...args, '--dry-run']);
    expect(code).toBe(0);
    expect(packages.has('sharp')).toBe(true);
    expect(heavyIn(packages).filter((p) => p.startsWith('@aws-') || p === 's3rver')).toEqual([]);
  });
});
