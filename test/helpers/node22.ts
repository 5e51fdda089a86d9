/**
 * Node.js 22, the Lambda runtime's and the Batch image's version: this process when the suite runs on it,
 * else the `node` package of the npm registry (`npx -y node@22`, cached by npm after the first download).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const DEPLOYED_NODE_MAJOR = 22;

let found: Promise<string> | undefined;

/** The path of a Node 22 executable. */
export function node22(): Promise<string> {
  found ??= locate();
  return found;
}

async function locate(): Promise<string> {
  if (process.versions.node.split('.')[0] === String(DEPLOYED_NODE_MAJOR)) return process.execPath;
  const { stdout } = await promisify(execFile)(
    'npx',
    ['-y', `node@${DEPLOYED_NODE_MAJOR}`, '-p', 'process.execPath'],
    { timeout: 120_000 },
  );
  return stdout.trim();
}
