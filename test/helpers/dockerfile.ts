/**
 * The Batch worker's Dockerfile as the tests read it (infra cannot import it): its instructions, what it
 * copies from the build context (the repository less BATCH_IMAGE.exclude, Docker-ignore semantics), what
 * it sets and runs. One parser for the construct's test and the worker's run-as-the-container test.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { IgnoreStrategy } from 'aws-cdk-lib';
import { BATCH_IMAGE } from '../../infra/paths.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** One COPY: context paths (relative) to a destination in the image (absolute, resolved against WORKDIR). */
interface Copy {
  readonly sources: readonly string[];
  readonly dest: string;
}

/** One command of a RUN instruction (RUN a && b: two), with the folder it runs in. */
export interface RunStep {
  /** WORKDIR then. */
  readonly dir: string;
  readonly command: string;
}

/** `npm ci` as a RUN instruction calls it. */
export interface NpmCi {
  /** The folder it runs in (WORKDIR then). */
  readonly dir: string;
  /** Its `--omit=` kinds: dev, optional, peer. */
  readonly omit: readonly string[];
  /** Its other flags. */
  readonly flags: readonly string[];
}

export interface Dockerfile {
  readonly instructions: readonly Instruction[];
  /** The arguments of every `op` instruction, in order. */
  of(op: string): string[];
  /** The last WORKDIR: where the entry point runs. */
  readonly workdir: string;
  readonly copies: readonly Copy[];
  /** Every RUN instruction's commands, in order. */
  readonly runs: readonly RunStep[];
  readonly env: Readonly<Record<string, string>>;
  /** USER uid[:gid]; Docker runs a uid without a group of its own in group 0. */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** ENTRYPOINT in exec form. */
  readonly entrypoint: readonly string[];
  /** Scripts the RUN instructions and the entry point run (`node X`), as paths in the image. */
  readonly scripts: readonly string[];
  /** Where `nst weights fetch --out DIR` puts the weights at build time. */
  readonly weightsDir?: string;
}

const DOCKERFILE_PATH = path.join(BATCH_IMAGE.directory, BATCH_IMAGE.file);

/** The instructions of a Dockerfile: continuation lines joined, comments and blank lines dropped. */
function instructionsOf(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

const SCRIPT = /[\w.-]+(\/[\w.-]+)+\.(js|ts)\b/g;

export function readDockerfile(file = DOCKERFILE_PATH): Dockerfile {
  const instructions = instructionsOf(readFileSync(file, 'utf8'));
  let workdir = '/';
  const copies: Copy[] = [];
  const runs: RunStep[] = [];
  const scripts: string[] = [];
  const env: Record<string, string> = {};
  let user: Dockerfile['user'];
  let entrypoint: string[] = [];
  for (const { op, args } of instructions) {
    if (op === 'WORKDIR') workdir = path.posix.resolve(workdir, args);
    if (op === 'COPY') {
      const parts = args.split(/\s+/);
      if (parts.some((p) => p.startsWith('--'))) throw new Error(`COPY flags are not modelled: ${args}`);
      const dest = parts.at(-1)!;
      const resolved = path.posix.resolve(workdir, dest);
      copies.push({ sources: parts.slice(0, -1), dest: dest.endsWith('/') ? `${resolved}/` : resolved });
    }
    if (op === 'ENV') {
      for (const pair of args.split(/\s+/)) {
        const [name, value] = pair.split('=');
        if (value === undefined) throw new Error(`ENV in NAME=value form only: ${args}`);
        env[name] = value;
      }
    }
    if (op === 'USER') {
      const [uid, gid] = args.split(':');
      if (!/^\d+$/.test(uid) || (gid !== undefined && !/^\d+$/.test(gid))) {
        throw new Error(`USER by number only (a name needs the image's /etc/passwd): ${args}`);
      }
      user = { uid: Number(uid), gid: Number(gid ?? 0) };
    }
    if (op === 'RUN') {
      scripts.push(...runScripts(args).map((s) => path.posix.resolve(workdir, s)));
      runs.push(...args.split('&&').map((command) => ({ dir: workdir, command: command.trim() })));
    }
    if (op === 'ENTRYPOINT') {
      entrypoint = JSON.parse(args) as string[];
      scripts.push(...runScripts(entrypoint.join(' ')).map((s) => path.posix.resolve(workdir, s)));
    }
  }
  const weightsDir = instructions
    .filter((i) => i.op === 'RUN')
    .map((i) => i.args.match(/weights fetch --out (\S+)/)?.[1])
    .find(Boolean);
  return {
    instructions,
    of: (op) => instructions.filter((i) => i.op === op).map((i) => i.args),
    workdir,
    copies,
    runs,
    env,
    user,
    entrypoint,
    scripts,
    weightsDir,
  };
}

/** Script paths a command runs with node (`node bin/nst.js ...`, `node dist/functions/batch/main.js`). */
const runScripts = (command: string): string[] => command.match(SCRIPT) ?? [];

/** The step as `npm ci` with its flags, or undefined when it is another command. */
export function npmCiOf({ dir, command }: RunStep): NpmCi | undefined {
  const ci = command.match(/^npm ci((?:\s+--[\w=-]+)*)$/);
  if (!ci) return undefined;
  const flags = ci[1].trim().split(/\s+/).filter(Boolean);
  return {
    dir,
    omit: flags.filter((f) => f.startsWith('--omit=')).map((f) => f.slice('--omit='.length)),
    flags: flags.filter((f) => !f.startsWith('--omit=')),
  };
}

/** Docker's view of the build context: the repository less BATCH_IMAGE.exclude. */
const ignore = IgnoreStrategy.docker(BATCH_IMAGE.directory, [...BATCH_IMAGE.exclude]);

/** Whether a path of the repository (absolute) is in the build context. */
export const inBuildContext = (file: string): boolean => existsSync(file) && !ignore.ignores(file);

/** Every file under a context path (relative to the build context), absolute, whether in the context or not. */
export function filesUnder(source: string): string[] {
  const walk = (p: string): string[] =>
    statSync(p).isDirectory() ? readdirSync(p).flatMap((entry) => walk(path.join(p, entry))) : [p];
  return walk(path.join(BATCH_IMAGE.directory, source));
}

/**
 * Where a path in the image came from in the build context (absolute), by the last COPY that put it
 * there, or undefined when none did. A folder source copies its contents into the destination; a file
 * goes into a destination ending in `/`, else becomes it.
 */
export function contextPathOf(dockerfile: Dockerfile, imagePath: string): string | undefined {
  for (const copy of [...dockerfile.copies].reverse()) {
    for (const source of copy.sources) {
      const from = path.join(BATCH_IMAGE.directory, source);
      if (statSync(from, { throwIfNoEntry: false })?.isDirectory()) {
        const inside = path.posix.relative(copy.dest, imagePath);
        if (!inside.startsWith('..')) return path.join(from, inside);
      } else {
        const target = copy.dest.endsWith('/')
          ? path.posix.join(copy.dest, path.posix.basename(source))
          : copy.dest;
        if (imagePath === target) return from;
      }
    }
  }
  return undefined;
}
