/**
 * A process run as a container runs it, without Docker: in a private mount namespace (`unshare -m`, as
 * root), chrooted into a fresh root that holds only the system's /usr and /etc (and the /bin, /lib links),
 * /dev, /proc, an empty /tmp and the folders given (the image's WORKDIR, the weights, the Node binary), so
 * nothing of the repository checkout or its node_modules is there to read. It starts in the WORKDIR, as
 * the image's uid and gid with no other groups (setpriv), with exactly the environment given (env -i).
 * Nothing is mounted or written outside the namespace.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export interface ContainerSpec {
  /** An empty folder here that becomes the root inside. */
  readonly rootfs: string;
  /** Host path -> path inside (folders, or single files such as the Node binary). */
  readonly mounts: readonly { readonly from: string; readonly at: string }[];
  readonly workdir: string;
  readonly uid: number;
  readonly gid: number;
  readonly env: Readonly<Record<string, string>>;
  /** The command (exec form, looked up on the environment's PATH). */
  readonly command: readonly string[];
  readonly timeoutMs: number;
}

export interface ContainerRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Seconds from the start to the exit. */
  readonly seconds: number;
}

/** The namespace's set-up; positional arguments: rootfs, workdir, uid, gid, mount pairs, `--`, env and command. */
const SETUP = `
set -eu
R=$1 WD=$2 U=$3 G=$4; shift 4
mount -t tmpfs -o mode=0755 nst-rootfs "$R"
for d in bin sbin lib lib32 lib64 libx32 usr etc; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$R/$d"
  elif [ -d "/$d" ]; then mkdir "$R/$d"; mount --rbind "/$d" "$R/$d"; fi
done
mkdir "$R/dev" "$R/proc" "$R/tmp"
mount --rbind /dev "$R/dev"
mount --rbind /proc "$R/proc"
mount -t tmpfs -o mode=1777 nst-tmp "$R/tmp"
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then mkdir -p "$R$2"; else mkdir -p "$(dirname "$R$2")"; touch "$R$2"; fi
  mount --bind "$1" "$R$2"
  shift 2
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
    ...spec.mounts.flatMap((m) => [path.resolve(m.from), m.at]),
    '--',
    ...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...spec.command,
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // Every step execs the next, so this pid ends as the command's own: the timeout kills it.
    const child = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), spec.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}
