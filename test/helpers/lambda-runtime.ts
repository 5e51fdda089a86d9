/**
 * Runs a synthesised function (test/helpers/lambda-template.ts) the way Lambda runs it, on this machine:
 * in a private mount namespace (`unshare -m`, root only) the child sees Lambda's file layout at the real
 * paths: the code asset at the task root /var/task, the layers' contents merged under /opt (extracted in
 * the function's order, a later layer's files replacing an earlier one's), the Node executable at
 * /var/lang/bin/node, the runtime stand-in (lambda-runtime/bootstrap.mjs) in /var/runtime, an empty /tmp,
 * all but /tmp read-only; and the folders the caller hides (the repository checkout) covered by an empty
 * tmpfs, so the function provably reads nothing from them. The environment is Lambda's own (NODE_PATH,
 * LAMBDA_TASK_ROOT, AWS_LAMBDA_*, TZ, ...) plus the template's variables plus what the caller adds
 * (credentials, endpoints); nothing of this process's environment is passed on.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DeployedFunction } from './lambda-template.js';

/** Lambda's module search path for Node.js runtimes (the layers' nodejs/ folders first). */
const LAMBDA_NODE_PATH = [
  '/opt/nodejs/node22/node_modules',
  '/opt/nodejs/node_modules',
  '/var/runtime/node_modules',
  '/var/runtime',
  '/var/task',
].join(':');

const RUNTIME_FILES = ['bootstrap.mjs', 'node-path-hook.mjs'];

export interface LambdaRunOptions {
  readonly fn: DeployedFunction;
  /** The Node executable (Lambda's runtime version). */
  readonly node: string;
  /** Invoked one after another in one process, as a warm container receives them. */
  readonly events: readonly unknown[];
  /** Added to Lambda's environment: credentials, the SDK's endpoint variables. */
  readonly env: Readonly<Record<string, string>>;
  /** Host folders the function must not see. */
  readonly hide: readonly string[];
  readonly timeoutMs: number;
}

interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly code?: string;
  readonly stack?: string[];
}

interface Invocation {
  readonly requestId: string;
  readonly seconds: number;
  readonly result?: unknown;
  readonly error?: LambdaError;
}

export interface LambdaRun {
  readonly nodeVersion?: string;
  readonly cwd?: string;
  /** What the function could list of each hidden folder (null: does not exist). */
  readonly visible?: Record<string, string[] | null>;
  /** How long importing the handler module took (the cold start's own part). */
  readonly importSeconds?: number;
  readonly invocations: readonly Invocation[];
  /** An uncaught exception or unhandled rejection, which ends a Lambda runtime. */
  readonly fatal?: { readonly event: string; readonly error: LambdaError };
  /** The function's stdout and stderr (its logs). */
  readonly logs: string;
  readonly exitCode: number | null;
}

/** Whether this process may make a private mount namespace (root, and a kernel that allows it). */
export async function canEmulateLambda(): Promise<boolean> {
  try {
    await promisify(execFile)('unshare', ['-m', '--propagation', 'private', 'true'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Lambda's own variables, then the template's, then the caller's. */
function lambdaEnvironment(fn: DeployedFunction, extra: Readonly<Record<string, string>>) {
  return {
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    LD_LIBRARY_PATH:
      '/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    NODE_PATH: LAMBDA_NODE_PATH,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    _HANDLER: fn.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    AWS_REGION: fn.region,
    AWS_DEFAULT_REGION: fn.region,
    ...fn.environment,
    ...extra,
  };
}

/**
 * The mounts, then the runtime. Arguments: task root, runtime folder, merged /opt, Node executable, then
 * the folders to hide. Every source is bound before /tmp and the hidden folders are covered.
 */
const MOUNT_SCRIPT = `
task=$1 runtime=$2 opt=$3 node=$4; shift 4
ro_bind() { mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; }
mount -t tmpfs -o mode=755 lambda-var /var
mkdir -p /var/task /var/runtime /var/lang/bin
: > /var/lang/bin/node
ro_bind "$task" /var/task
ro_bind "$runtime" /var/runtime
ro_bind "$node" /var/lang/bin/node
ro_bind "$opt" /opt
mount -t tmpfs -o mode=1777,size=512m lambda-tmp /tmp
for dir; do mount -t tmpfs -o ro,mode=755 hidden "$dir"; done
cd /var/task
exec /var/lang/bin/node /var/runtime/bootstrap.mjs
`;

/** Lambda's /opt: each layer's contents extracted in order into one folder (hard links, no copies). */
async function mergeLayers(layers: DeployedFunction['layers'], dir: string): Promise<void> {
  await mkdir(dir);
  for (const layer of layers) {
    await promisify(execFile)('cp', ['-al', '--remove-destination', `${layer.dir}/.`, dir]);
  }
}

/** The sources must not lie under a folder the namespace covers before they are bound. */
function checkSources(sources: readonly string[]): void {
  if (!existsSync('/opt')) throw new Error('the /opt stand-in needs an /opt folder to mount over');
  for (const source of sources) {
    if (/^\/(var|opt)(\/|$)/.test(source)) {
      throw new Error(`${source} lies under /var or /opt, which the Lambda layout covers: move it`);
    }
  }
}

export async function runLikeLambda(opts: LambdaRunOptions): Promise<LambdaRun> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'nst-lambda-'));
  try {
    const runtime = path.join(root, 'runtime');
    const opt = path.join(root, 'opt');
    await mkdir(runtime);
    for (const file of RUNTIME_FILES) {
      await copyFile(path.join(import.meta.dirname, 'lambda-runtime', file), path.join(runtime, file));
    }
    await writeFile(
      path.join(runtime, 'invocations.json'),
      JSON.stringify({
        timeoutSeconds: opts.fn.timeoutSeconds,
        invokedFunctionArn: opts.fn.arn,
        invocations: opts.events.map((event, i) => ({ requestId: `request-${i + 1}`, event })),
        hidden: opts.hide,
      }),
    );
    await mergeLayers(opts.fn.layers, opt);
    checkSources([opts.fn.code, runtime, opt, opts.node]);
    return await run(opts, [opts.fn.code, runtime, opt, opts.node, ...opts.hide]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function run(opts: LambdaRunOptions, args: readonly string[]): Promise<LambdaRun> {
  const child = spawn(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-euc', MOUNT_SCRIPT, 'lambda', ...args],
    {
      env: lambdaEnvironment(opts.fn, opts.env),
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let logs = '';
  let reports = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    logs += chunk;
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    logs += chunk;
  });
  child.stdio[3]!.on('data', (chunk: Buffer) => {
    reports += chunk;
  });
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), opts.timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve(parseReports(reports, logs, exitCode));
    });
  });
}

function parseReports(reports: string, logs: string, exitCode: number | null): LambdaRun {
  const lines = reports
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  const of = (kind: string) => lines.find((l) => l.kind === kind);
  return {
    nodeVersion: of('start')?.node,
    cwd: of('start')?.cwd,
    visible: of('start')?.visible,
    importSeconds: of('init')?.importSeconds,
    invocations: lines.filter((l) => l.kind === 'invocation'),
    fatal: of('fatal'),
    logs,
    exitCode,
  };
}
