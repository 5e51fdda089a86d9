/**
 * A process run as a container runs it, without Docker: in a private mount namespace (`unshare -m`, as
 * root), chrooted into a fresh root that holds only the system's /usr and /etc (and the /bin, /lib links),
 * /dev, /proc, an empty /tmp and the folders given (the image's WORKDIR, the weights, the Node binary), so
 * nothing of the repository checkout or its node_modules is there to read. It starts in the WORKDIR, as
 * the image's uid and gid with no other groups (setpriv), with exactly the environment given (env -i).
 * Nothing is mounted or written outside the namespace. The Batch worker's test and the Lambda emulation
 * (test/helpers/lambda-runtime.ts) both run through it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ContainerSpec {
  /** An empty folder here that becomes the root inside. */
  readonly rootfs: string;
  /**
   * Host path -> path inside (folders, or single files such as the Node binary); read-write unless
   * readOnly. A file may cover one of the system's (/etc/passwd): the cover stays in the namespace.
   */
  readonly mounts: readonly { readonly from: string; readonly at: string; readonly readOnly?: boolean }[];
  readonly workdir: string;
  readonly uid: number;
  readonly gid: number;
  readonly env: Readonly<Record<string, string>>;
  /** The command (exec form, looked up on the environment's PATH). */
  readonly command: readonly string[];
  readonly timeoutMs: number;
  /** The size of the empty /tmp. @default half the memory (tmpfs's default) */
  readonly tmpSizeMb?: number;
  /** Piped to the command's stdin (a harness's requests); absent: no stdin. */
  readonly stdin?: NodeJS.ReadableStream;
  /** Told each chunk the command writes to file descriptor 3, as it comes (besides `reports`). */
  readonly onReports?: (chunk: string) => void;
}

export interface ContainerRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What the command wrote to file descriptor 3: a channel for a harness's own reports. */
  readonly reports: string;
  /** Seconds from the start to the exit. */
  readonly seconds: number;
}

/**
 * The namespace's set-up; positional arguments: rootfs, workdir, uid, gid, /tmp's tmpfs options, mount
 * triples (from, at, ro|rw), `--`, env and command.
 */
const SETUP = `
set -eu
R=$1 WD=$2 U=$3 G=$4 TMP=$5; shift 5
mount -t tmpfs -o mode=0755 nst-rootfs "$R"
for d in bin sbin lib lib32 lib64 libx32 usr etc; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d"
  elif [ -d "/$d" ]; then mkdir "$R/$d"; mount --rbind "/$d" "$R/$d"; fi
done
mkdir "$R/dev" "$R/proc" "$R/tmp"
mount --rbind /dev "$R/dev"
mount --rbind /proc "$R/proc"
mount -t tmpfs -o "$TMP" nst-tmp "$R/tmp"
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then mkdir -p "$R$2"; else mkdir -p "$(dirname "$R$2")"; [ -e "$R$2" ] || touch "$R$2"; fi
  mount --bind "$1" "$R$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$R$2"; fi
  shift 3
done
shift
exec chroot "$R" /bin/sh -c 'cd "$1" && U=$2 G=$3 && shift 3 && exec setpriv --reuid="$U" --regid="$G" --clear-groups env -i "$@"' sh "$WD" "$U" "$G" "$@"
`;

export function runContainer(spec: ContainerSpec): Promise<ContainerRun> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'running a process as its container does needs root here (unshare -m, mount, chroot, setpriv)',
    );
  }
  mkdirSync(spec.rootfs, { recursive: true });
  for (const name of Object.keys(spec.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a variable name: ${name}`);
  }
  const args = [
    '-m',
    'sh',
    '-c',
    SETUP,
    'sh',
    path.resolve(spec.rootfs),
    spec.workdir,
    String(spec.uid),
    String(spec.gid),
    `mode=1777${spec.tmpSizeMb ? `,size=${spec.tmpSizeMb}m` : ''}`,
    ...spec.mounts.flatMap((m) => [path.resolve(m.from), m.at, m.readOnly ? 'ro' : 'rw']),
    '--',
    ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...spec.command,
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // Every step execs the next, so this pid ends as the command's own: the timeout kills it.
    const child = spawn('unshare', args, { stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'] });
    if (spec.stdin) spec.stdin.pipe(child.stdin!);
    let stdout = '';
    let stderr = '';
    let reports = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.stdio[3]!.on('data', (d: Buffer) => {
      reports += d.toString('utf8');
      spec.onReports?.(d.toString('utf8'));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, reports, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Set (by .ci/run) where a deployed test that cannot run must fail instead of skipping. */
const REQUIRE_CONTAINERS_ENV = 'NST_REQUIRE_CONTAINERS';

let probed: Promise<string | undefined> | undefined;

/**
 * Why a container cannot run here (not root, no mount namespaces, no chroot or setpriv), or undefined
 * when it can: a trivial one is run once. The tests that need one skip, printing the reason, except where
 * NST_REQUIRE_CONTAINERS is set (CI): there the reason is thrown.
 */
export function whyNoContainers(): Promise<string | undefined> {
  probed ??= probe().then((reason) => {
    if (reason && process.env[REQUIRE_CONTAINERS_ENV]) {
      throw new Error(`${reason} (${REQUIRE_CONTAINERS_ENV} is set, as in CI: the deployed tests must run)`);
    }
    return reason;
  });
  return probed;
}

async function probe(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root: a container here needs unshare -m, mount, chroot, setpriv';
  const rootfs = await mkdtemp(path.join(os.tmpdir(), 'nst-container-probe-'));
  try {
    const run = await runContainer({
      rootfs,
      mounts: [],
      workdir: '/',
      uid: 1000,
      gid: 1000,
      env: {},
      command: ['/bin/true'],
      timeoutMs: 10_000,
    });
    return run.code === 0 ? undefined : `a trivial container failed (exit ${run.code}): ${run.stderr.trim()}`;
  } catch (e) {
    return `a trivial container could not start: ${(e as Error).message}`;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}
