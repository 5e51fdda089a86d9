/**
 * The package as a user installs it: `npm pack` (of the dist/ that `npm test` built first), installed into
 * an empty app from the tarball, then `npx nst stylize` (a 64 px job), `npx nst serve` with a job submitted
 * to it, and the library's entry points imported by name. What the tarball holds is checked too: what runs,
 * nothing of the tests, the benchmarks or the TypeScript sources.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/paths.js';
import { unsupportedNodeLine } from '../src/cli/node-support.js';
import { generateVggWeights } from '../src/engine/vgg.js';
import { MANIFEST_FILE } from '../src/weights/manifest.js';
import { writeWeights } from '../src/weights/store.js';
import { SHARED_WEIGHTS } from './helpers/shared.js';

const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 300_000;

interface PackedFile {
  readonly path: string;
}

let temp: string;
let app: string;
let weights: string;
let packed: { filename: string; size: number; entryCount: number; files: PackedFile[] };

beforeAll(async () => {
  temp = await mkdtemp(path.join(tmpdir(), 'nst-package-'));
  app = path.join(temp, 'app');
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', temp], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  packed = JSON.parse(stdout)[0];
  await run('mkdir', [app]);
  await writeFile(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module' }),
  );
  // As the README's "Install into your own app" says; the npm cache has every package after `npm ci`.
  await run(
    'npm',
    ['install', path.join(temp, packed.filename), '--no-audit', '--no-fund', '--prefer-offline'],
    { cwd: app, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, timeout: INSTALL_TIMEOUT_MS },
  );
  weights = SHARED_WEIGHTS;
  if (!existsSync(path.join(weights, MANIFEST_FILE))) {
    weights = path.join(temp, 'weights');
    await writeWeights(weights, generateVggWeights(1));
  }
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(() => rm(temp, { recursive: true, force: true }));

/** `npx nst ...` in the app, as its user runs it. */
async function npxNst(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await run('npx', ['--no-install', 'nst', ...args], {
    cwd: app,
    timeout: 120_000,
  });
  const notice = unsupportedNodeLine();
  return { stdout, stderr: notice ? stderr.replace(notice, '') : stderr };
}

describe('the npm package', () => {
  it('ships the compiled code with its types, the examples and the schema: no sources, tests or benchmarks', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/nst.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/cli/main.js',
        'dist/functions/stylize/index.js',
        'dist/functions/stylize/index.d.ts',
        'dist/functions/batch/main.js',
        'dist/infra/cdk.js',
        'dist/infra/cdk.d.ts',
        'examples/content.jpg',
        'examples/style.jpg',
        'schema/job-spec.schema.json',
      ]),
    );
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/.*\.(js|d\.ts)|bin\/nst\.js|examples\/(content|style)\.jpg|schema\/job-spec\.schema\.json|package\.json|README\.md)$/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
    expect(files.some((f) => /^dist\/(test|bench|scripts)\//.test(f) || f.endsWith('app.js'))).toBe(false);
    console.log(
      `npm pack: ${packed.filename}, ${(packed.size / 1024).toFixed(0)} kB, ${packed.entryCount} files`,
    );
  });

  it('runs npx nst stylize from the app: a 64 px job', async () => {
    const example = (name: string) => path.join(app, 'node_modules/serverless-style-transfer/examples', name);
    const out = path.join(app, 'out.jpg');
    const { stdout } = await npxNst([
      'stylize',
      '-c',
      example('content.jpg'),
      '-s',
      example('style.jpg'),
      '-o',
      out,
      '--size',
      '64',
      '--iterations',
      '5',
      '--weights',
      weights,
      '--json',
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ output: out, width: 64, iterations: 5 });
    expect(await sharp(out).metadata()).toMatchObject({ format: 'jpeg', width: 64 });
  });

  it('runs npx nst serve from the app, and a job submitted to it ends with its result', async () => {
    const server = spawn('npx', ['--no-install', 'nst', 'serve', '--port', '0', '--weights', weights], {
      cwd: app,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const endpoint = await servedEndpoint(server);
      const photo = path.join(app, 'node_modules/serverless-style-transfer/examples/content.jpg');
      const style = path.join(app, 'node_modules/serverless-style-transfer/examples/style.jpg');
      const flags = ['--endpoint', endpoint, '--size', '64', '--iterations', '3', '--wait'];
      const { stderr } = await npxNst(['submit', photo, '--style', style, '--out', 'jobs', ...flags]);
      const jobId = /nst: job ([^\s:]+) succeeded: /.exec(stderr)?.[1];
      expect(jobId, stderr).toBeDefined();
      const manifest = JSON.parse(await readFile(path.join(app, 'jobs', jobId!, 'job.json'), 'utf8'));
      expect(manifest).toMatchObject({ status: 'succeeded', output: { width: 64 } });
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('gives the library, the handler and the CDK constructs by name, with their types', async () => {
    const script = [
      "import { stylizeImage, stylizeOptionsSchema, NstError } from 'serverless-style-transfer';",
      "import { handler } from 'serverless-style-transfer/handler';",
      "import { createRequire } from 'node:module';",
      'const loadedCdk = Object.keys(createRequire(import.meta.url).cache).some((m) => m.includes("aws-cdk-lib"));',
      'console.log(JSON.stringify({ stylizeImage: typeof stylizeImage, handler: typeof handler,',
      '  size: stylizeOptionsSchema.parse({}).size, error: new NstError("INVALID_OPTION", "x").code, loadedCdk }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({
      stylizeImage: 'function',
      handler: 'function',
      size: 512,
      error: 'INVALID_OPTION',
      loadedCdk: false,
    });
    // The CDK subpath resolves to its code and declarations (the app has no aws-cdk-lib to run it with).
    const pkg = JSON.parse(
      await readFile(path.join(app, 'node_modules/serverless-style-transfer/package.json'), 'utf8'),
    );
    for (const entry of ['.', './handler', './cdk']) {
      for (const file of Object.values(pkg.exports[entry] as Record<string, string>)) {
        expect(existsSync(path.join(app, 'node_modules/serverless-style-transfer', file)), file).toBe(true);
      }
    }
  });
});

/** The endpoint `nst serve` prints once it listens. */
function servedEndpoint(server: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    server.stderr!.on('data', (d) => {
      stderr += d;
      const endpoint = /local S3 pipeline at (http:\/\/\S+),/.exec(stderr)?.[1];
      if (endpoint) resolve(endpoint);
    });
    server.on('close', (code) => reject(new Error(`nst serve exited (${code}): ${stderr}`)));
  });
}
