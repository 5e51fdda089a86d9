/**
 * Runs a synthesised function (test/helpers/lambda-template.ts) the way Lambda runs it, on this machine:
 * in a container (test/helpers/container.ts: a fresh root of the system's /usr and /etc, nothing of this
 * checkout) with Lambda's file layout: the code asset at the task root /var/task, the layers' contents
 * merged under /opt (extracted in the function's order, a later layer's files replacing an earlier one's),
 * the Node executable at /var/lang/bin/node, the runtime stand-in (lambda-runtime/bootstrap.mjs) in
 * /var/runtime, all read-only, and an empty 512 MB /tmp; as Lambda's sandbox user, not root. The
 * environment is Lambda's own (NODE_PATH, LAMBDA_TASK_ROOT, AWS_LAMBDA_*, TZ, ...) plus the template's
 * variables plus what the caller adds (credentials, endpoints); nothing of this process's environment.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { DEPLOYED_NODE_MAJOR } from '../../infra/node-runtime.js';
import { type ContainerRun, type ContainerSpec, runContainer } from './container.js';
import type { DeployedFunction } from './lambda-template.js';

/** Lambda's module search path for Node.js runtimes (the layers' nodejs/ folders first). */
const LAMBDA_NODE_PATH = [
  `/opt/nodejs/node${DEPLOYED_NODE_MAJOR}/node_modules`,
  '/opt/nodejs/node_modules',
  '/var/runtime/node_modules',
  '/var/runtime',
  '/var/task',
].join(':');

const RUNTIME_FILES = ['bootstrap.mjs', 'node-path-hook.mjs'];
/** Lambda's sandbox user and group, with the passwd entry that gives it a home (os.homedir(): the SDK asks). */
const LAMBDA_UID = 993;
const LAMBDA_GID = 990;
const LAMBDA_PASSWD = `sbx_user1051:x:${LAMBDA_UID}:${LAMBDA_GID}::/home/sbx_user1051:/sbin/nologin\n`;
const NODE = '/var/lang/bin/node';

export interface LambdaRunOptions {
  readonly fn: DeployedFunction;
  /** The Node executable (Lambda's runtime version). */
  readonly node: string;
  /** Invoked one after another in one process, as a warm container receives them. */
  readonly events: readonly unknown[];
  /** Added to Lambda's environment: credentials, the SDK's endpoint variables. */
  readonly env: Readonly<Record<string, string>>;
  /** Host paths the function must not find (none of the host is there): it reports whether each exists. */
  readonly absent: readonly string[];
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
  readonly uid?: number;
  /** Whether the function found each of the `absent` paths. */
  readonly found?: Record<string, boolean>;
  /** How long importing the handler module took (the cold start's own part). */
  readonly importSeconds?: number;
  readonly invocations: readonly Invocation[];
  /** An uncaught exception or unhandled rejection, which ends a Lambda runtime. */
  readonly fatal?: { readonly event: string; readonly error: LambdaError };
  /** The function's stdout and stderr (its logs). */
  readonly logs: string;
  readonly exitCode: number | null;
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

/** Lambda's /opt: each layer's contents extracted in order into one folder (hard links, no copies). */
async function mergeLayers(layers: DeployedFunction['layers'], dir: string): Promise<void> {
  await mkdir(dir);
  for (const layer of layers) {
    await promisify(execFile)('cp', ['-al', '--remove-destination', `${layer.dir}/.`, dir]);
  }
}

export async function runLikeLambda(opts: LambdaRunOptions): Promise<LambdaRun> {
  return inLambdaLayout(opts, opts.events, (spec) => runContainer(spec));
}

/** A warm container that takes events as they are sent (startLikeLambda). */
export interface LiveLambda {
  /** Invokes the function with `event` once the events before it are done. */
  invoke(event: unknown): Promise<Invocation>;
  /** Ends the container (stdin closed) and reports its run. */
  finish(): Promise<LambdaRun>;
}

/**
 * The function in one warm container, invoked with each event as the caller sends it (a Step Functions
 * interpreter deciding each step from the last result). Invocations run one at a time, in order.
 */
export function startLikeLambda(opts: Omit<LambdaRunOptions, 'events'>): LiveLambda {
  const requests = new PassThrough();
  const pending = new Map<string, (invocation: Invocation) => void>();
  let partial = '';
  const onReports = (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines.filter(Boolean).map((l) => JSON.parse(l))) {
      if (line.kind === 'invocation') pending.get(line.requestId)?.(line);
    }
  };
  const run = inLambdaLayout(opts, undefined, (spec) =>
    runContainer({ ...spec, stdin: requests, onReports }),
  );
  let count = 0;
  return {
    invoke(event) {
      const requestId = `request-${++count}`;
      const answered = new Promise<Invocation>((resolve) => pending.set(requestId, resolve));
      requests.write(`${JSON.stringify({ requestId, event })}\n`);
      // A container that ends first (a fatal error, the timeout) answers nothing: its run says why.
      return Promise.race([
        answered,
        run.then((r) =>
          Promise.reject(
            new Error(`the function ended: ${r.fatal?.error.errorMessage ?? r.logs.slice(-2000)}`),
          ),
        ),
      ]);
    },
    finish() {
      requests.end();
      return run;
    },
  };
}

/**
 * Lays the function out as Lambda does (code, merged layers, Node, the runtime stand-in) in a fresh root,
 * runs `start` on the container spec, and parses its reports. `invocations` undefined: events on stdin.
 */
async function inLambdaLayout(
  opts: Omit<LambdaRunOptions, 'events'>,
  events: readonly unknown[] | undefined,
  start: (spec: ContainerSpec) => Promise<ContainerRun>,
): Promise<LambdaRun> {
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
        invocations: events?.map((event, i) => ({ requestId: `request-${i + 1}`, event })),
        absent: opts.absent,
      }),
    );
    await mergeLayers(opts.fn.layers, opt);
    const passwd = path.join(root, 'passwd');
    await writeFile(passwd, (await readFile('/etc/passwd', 'utf8')) + LAMBDA_PASSWD);
    const run = await start({
      rootfs: path.join(root, 'rootfs'),
      mounts: [
        { from: opts.fn.code, at: '/var/task', readOnly: true },
        { from: runtime, at: '/var/runtime', readOnly: true },
        { from: opt, at: '/opt', readOnly: true },
        { from: opts.node, at: NODE, readOnly: true },
        { from: passwd, at: '/etc/passwd', readOnly: true },
      ],
      workdir: '/var/task',
      uid: LAMBDA_UID,
      gid: LAMBDA_GID,
      env: lambdaEnvironment(opts.fn, opts.env),
      command: [NODE, '/var/runtime/bootstrap.mjs'],
      timeoutMs: opts.timeoutMs,
      tmpSizeMb: 512,
    });
    return parseReports(run.reports, run.stdout + run.stderr, run.code);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
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
    uid: of('start')?.uid,
    found: of('start')?.found,
    importSeconds: of('init')?.importSeconds,
    invocations: lines.filter((l) => l.kind === 'invocation'),
    fatal: of('fatal'),
    logs,
    exitCode,
  };
}
