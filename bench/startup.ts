/**
 * `npm run bench -- --startup`: how long `nst` takes to start and how much memory it takes, against bare
 * `node -e 0` in the same run. Each command runs `runs` times in a process of its own; the table gives the
 * median wall time and the largest peak RSS (GNU time's %M). `nst status` asks a running `nst serve`
 * (started here, on a free port) about a job id it does not have, which is a full round trip.
 * `--nst <bin>` measures another checkout's bin/nst.js (an older commit, to compare).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GNU_TIME = '/usr/bin/time';

export interface StartupRow {
  readonly command: string;
  readonly seconds: number;
  readonly peakRssMb?: number;
  /** The target this command is held to (issue: the fast CLI), in seconds and MB. */
  readonly target?: { readonly seconds: number; readonly peakRssMb?: number };
}

export interface StartupSetup {
  readonly nst: string;
  readonly repo: string;
  readonly weights: string;
  readonly runs: number;
}

/** Median seconds and largest peak RSS of `argv` over `runs` runs. */
async function measure(argv: string[], runs: number, cwd: string) {
  const seconds: number[] = [];
  const rss: number[] = [];
  const timed = existsSync(GNU_TIME);
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { stderr } = await run(timed ? GNU_TIME : argv[0], timed ? ['-f', '%M', ...argv] : argv.slice(1), {
      cwd,
      maxBuffer: 1 << 20,
    }).catch((e: { stderr?: string; code?: number }) => {
      // `nst status` of an unknown job exits 2 by design; anything else is the bench's problem.
      if (e.code === 2 && typeof e.stderr === 'string') return { stderr: e.stderr };
      throw e;
    });
    seconds.push((performance.now() - started) / 1000);
    if (timed) rss.push(Number(stderr.trim().split('\n').pop()) / 1024);
  }
  seconds.sort((a, b) => a - b);
  return {
    seconds: Number(seconds[Math.floor(seconds.length / 2)].toFixed(3)),
    peakRssMb: rss.length ? Math.round(Math.max(...rss)) : undefined,
  };
}

/** Starts `nst serve` on a free port and resolves with its endpoint once it listens. */
function startServe(
  setup: StartupSetup,
  dataDir: string,
): Promise<{ server: ChildProcess; endpoint: string }> {
  const server = spawn(
    process.execPath,
    [setup.nst, 'serve', '--port', '0', '--data', dataDir, '--weights', setup.weights],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    server.stderr!.on('data', (d) => {
      stderr += d;
      const endpoint = /local S3 pipeline at (http:\/\/\S+),/.exec(stderr)?.[1];
      if (endpoint) resolve({ server, endpoint });
    });
    server.on('close', (code) => reject(new Error(`nst serve exited (${code}): ${stderr}`)));
  });
}

export async function measureStartup(setup: StartupSetup): Promise<StartupRow[]> {
  const temp = await mkdtemp(path.join(tmpdir(), 'nst-bench-startup-'));
  const node = process.execPath;
  const example = (name: string) => path.join(setup.repo, 'examples', name);
  const nst = (...args: string[]) => [node, setup.nst, ...args];
  const rows: StartupRow[] = [];
  const add = async (command: string, argv: string[], target?: StartupRow['target']) => {
    rows.push({ command, ...(await measure(argv, setup.runs, temp)), ...(target ? { target } : {}) });
  };
  const { server, endpoint } = await startServe(setup, path.join(temp, 's3'));
  try {
    await add('node -e 0', [node, '-e', '0']);
    await add('nst --help', nst('--help'), { seconds: 0.5, peakRssMb: 150 });
    await add('nst stylize --help', nst('stylize', '--help'), { seconds: 0.5, peakRssMb: 150 });
    await add(
      'nst stylize --dry-run',
      nst('stylize', '-c', example('content.jpg'), '-s', example('style.jpg'), '-o', 'out.jpg', '--dry-run'),
      { seconds: 1.5 },
    );
    await add('nst status <id> (nst serve)', nst('status', 'no-such-job', '--endpoint', endpoint), {
      seconds: 1,
    });
  } finally {
    const closed = new Promise((resolve) => server.once('close', resolve));
    server.kill('SIGTERM');
    await closed;
    await rm(temp, { recursive: true, force: true });
  }
  return rows;
}

export function startupTable(rows: readonly StartupRow[]): string[] {
  const base = rows.find((r) => r.command === 'node -e 0')?.seconds;
  const lines = ['command                         median s  vs node -e 0  peak RSS MB  target'];
  for (const r of rows) {
    const ratio = base ? `${(r.seconds / base).toFixed(1)}x` : '-';
    const target = r.target
      ? `< ${r.target.seconds} s${r.target.peakRssMb ? `, < ${r.target.peakRssMb} MB` : ''}`
      : '';
    lines.push(
      `${r.command.padEnd(30)}  ${r.seconds.toFixed(3).padStart(8)}  ${ratio.padStart(12)}  ${String(r.peakRssMb ?? '-').padStart(11)}  ${target}`,
    );
  }
  return lines;
}
