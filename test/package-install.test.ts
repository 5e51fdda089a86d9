/**
 * The package as a user installs it: `npm pack` (of the dist/ that `npm test` built first), installed into
 * an empty app from the tarball, then `npx nst stylize` (a 64 px job), `nst serve` with a job submitted to
 * it, the library's entry points imported by name and type-checked, and the CDK constructs with their peer
 * dependencies. What the tarball holds is checked too: what runs, nothing of the tests, the benchmarks or the
 * TypeScript sources, and every package its code imports is declared.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/paths.js';
import { generateVggWeights } from '../src/engine/vgg.js';
import { MANIFEST_FILE } from '../src/weights/manifest.js';
import { writeWeights } from '../src/weights/store.js';
import { withoutNodeNotice } from './helpers/cli.js';
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
  return { stdout, stderr: withoutNodeNotice(stderr) };
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
        'schema/job-notification.schema.json',
      ]),
    );
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/.*\.(js|d\.ts)|bin\/nst\.js|examples\/(content|style)\.jpg|schema\/job-(spec|notification)\.schema\.json|package\.json|README\.md)$/.test(
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

  it('runs nst serve from the app, and a job submitted to it ends with its result', async () => {
    // node runs the installed bin itself (not through npx), so stopping it stops the server.
    const bin = path.join(app, 'node_modules/.bin/nst');
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--weights', weights], {
      cwd: app,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const closed = new Promise((resolve) => server.once('close', resolve));
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
      await closed;
    }
  });

  it('gives the library, the handler and the notification schema by name, without loading aws-cdk-lib', async () => {
    const script = [
      "import { stylizeImage, stylizeOptionsSchema, NstError, JOB_EVENT_DETAIL_TYPES } from 'serverless-style-transfer';",
      "import { handler } from 'serverless-style-transfer/handler';",
      "import schema from 'serverless-style-transfer/job-notification.schema.json' with { type: 'json' };",
      'console.log(JSON.stringify({ stylizeImage: typeof stylizeImage, handler: typeof handler,',
      '  size: stylizeOptionsSchema.parse({}).size, error: new NstError("INVALID_OPTION", "x").code,',
      '  succeeded: JOB_EVENT_DETAIL_TYPES.succeeded, schema: schema.title }));',
    ].join('\n');
    // The app has no aws-cdk-lib: importing it anywhere on these paths would fail.
    expect(existsSync(path.join(app, 'node_modules/aws-cdk-lib'))).toBe(false);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({
      stylizeImage: 'function',
      handler: 'function',
      size: 512,
      error: 'INVALID_OPTION',
      succeeded: 'Style Transfer Job Succeeded',
      schema: 'serverless-style-transfer job notification',
    });
  });

  it("declares every package its code imports: the runtime's as dependencies, the CDK constructs' as peers", async () => {
    const pkg = JSON.parse(await readFile(path.join(installed(), 'package.json'), 'utf8'));
    const runtime = new Set(Object.keys(pkg.dependencies));
    const peers = new Set(Object.keys(pkg.peerDependencies));
    const seen = new Set<string>();
    for (const file of packed.files.map((f) => f.path).filter((f) => f.endsWith('.js'))) {
      const code = await readFile(path.join(installed(), file), 'utf8');
      const cdkSide = /^dist\/(infra|layers)\//.test(file);
      for (const name of importedPackages(code)) {
        seen.add(name);
        expect(runtime.has(name) || (cdkSide && peers.has(name)), `${file} imports ${name}`).toBe(true);
      }
    }
    // The scan finds imports of every kind: static, dynamic (the CLI's commands), the constructs' peers.
    expect([...seen]).toEqual(
      expect.arrayContaining(['commander', 'zod', 'sharp', '@aws-sdk/client-s3', 'aws-cdk-lib', 'cdk-nag']),
    );
  });

  it('types the library and the handler for a strict TypeScript app (declarations checked too)', async () => {
    await writeFile(
      path.join(app, 'consumer.ts'),
      [
        "import { type StylizeOptions, stylizeImage, stylizeOptionsSchema } from 'serverless-style-transfer';",
        "import { handler, type StylizeHandler } from 'serverless-style-transfer/handler';",
        "import { EVENT_SOURCE, type JobNotification } from 'serverless-style-transfer';",
        "import { type PresignedUpload, createSdkS3Client, ObjectStore, PRESIGNING_SETTINGS, presignDropIn } from 'serverless-style-transfer/client';",
        '// A backend that hands a web client a presigned upload.',
        "const presign = (bucket: string): Promise<PresignedUpload> => presignDropIn(new ObjectStore(createSdkS3Client(process.env, PRESIGNING_SETTINGS), bucket, 'art/'), { content: 'photo.jpg', style: 'starry' });",
        'const options: StylizeOptions = stylizeOptionsSchema.parse({ size: 64 });',
        'const run: typeof stylizeImage = stylizeImage;',
        'const lambda: StylizeHandler = handler;',
        "// A listener of the pipeline's events, typed by the detail.",
        'const resultOf = (e: { source: typeof EVENT_SOURCE; detail: JobNotification }): string | undefined => e.detail.output?.uri;',
        'export { lambda, options, presign, resultOf, run };',
      ].join('\n'),
    );
    const tsconfig = {
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    };
    await writeFile(path.join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const checked = await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((e) => e);
    expect(`${checked.stdout ?? ''}${checked.stderr ?? ''}`).toBe('');
  });

  it('gives the CDK constructs under serverless-style-transfer/cdk to an app that has the peers', async () => {
    // The peers, as an app that uses the constructs installs them (linked from this checkout).
    for (const peer of ['aws-cdk-lib', 'constructs', 'cdk-nag']) {
      await symlink(path.join(REPO_ROOT, 'node_modules', peer), path.join(app, 'node_modules', peer), 'dir');
    }
    const script = [
      "import { App, Stack } from 'aws-cdk-lib';",
      "import { Template } from 'aws-cdk-lib/assertions';",
      "import { BatchGpu, NstStack, StyleTransferPipeline, StylizeFunction, Storage } from 'serverless-style-transfer/cdk';",
      // The constructs are written for this repository's cdk.json feature flags (S3 access logs by bucket
      // policy, among others); a construct for any app's flags is the next issue's.
      `const stack = new Stack(new App({ context: ${JSON.stringify(cdkContext())} }), "Host");`,
      'new Storage(stack, "Storage");',
      'const buckets = Object.keys(Template.fromStack(stack).findResources("AWS::S3::Bucket")).length;',
      'console.log(JSON.stringify({ buckets, constructs: [NstStack, StyleTransferPipeline, StylizeFunction, BatchGpu].map((c) => typeof c) }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({
      buckets: 2,
      constructs: ['function', 'function', 'function', 'function'],
    });
  });
});

const installed = () => path.join(app, 'node_modules/serverless-style-transfer');

/** cdk.json's feature flags (the `@aws-cdk/...` keys of its context). */
const cdkContext = (): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context).filter(
      ([key]) => key.startsWith('@aws-cdk'),
    ),
  );

/** The packages (not node: built-ins, not relative paths) a compiled module imports, statically or not (comments aside). */
function importedPackages(code: string): Set<string> {
  const statements = /^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]/gm;
  const dynamic = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  const specifiers = [...code.matchAll(statements), ...code.matchAll(dynamic)].map((m) => m[1] ?? m[2]);
  return new Set(
    specifiers
      .filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
      .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0])),
  );
}

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
