/**
 * Runs the real `nst` command in a child process, as a user would: bin/nst.js and the compiled CLI in dist/
 * (`npm test` builds it first). On an unsupported Node.js, the one line that says so is taken off stderr
 * (test/unit/cli/node-support.test.ts checks it), so tests read what the command itself printed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { unsupportedNodeLine } from '../../src/cli/node-support.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(REPO, 'bin/nst.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function nst(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, NST_WEIGHTS_DIR: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: withoutNodeNotice(stderr) }));
  });
}

const NODE_NOTICE = unsupportedNodeLine();

/** stderr less the unsupported-Node.js line the command prints first. */
export function withoutNodeNotice(stderr: string): string {
  return NODE_NOTICE && stderr.startsWith(NODE_NOTICE) ? stderr.slice(NODE_NOTICE.length) : stderr;
}
