/**
 * The deployed Node.js major, the Lambda runtime's and the Batch image's (infra/node-runtime.ts): this
 * process when the suite runs on it, else the `node` package of the npm registry (`npx -y node@24`, cached
 * by npm after the first download).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DEPLOYED_NODE_MAJOR } from '../../infra/node-runtime.js';

let found: Promise<string> | undefined;

/** The path of a Node.js executable of the deployed major. */
export function deployedNode(): Promise<string> {
  found ??= locate();
  return found;
}

const majorOf = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

async function locate(): Promise<string> {
  if (majorOf(process.version) === DEPLOYED_NODE_MAJOR) return process.execPath;
  const { stdout } = await promisify(execFile)(
    'npx',
    ['-y', `node@${DEPLOYED_NODE_MAJOR}`, '-p', 'process.version + " " + process.execPath'],
    { timeout: 120_000 },
  );
  // Without its postinstall (npm with ignore-scripts) the package has no Node of its own and npx runs the
  // system's: only the version tells.
  const line = stdout.trim();
  const version = line.slice(0, line.indexOf(' '));
  const execPath = line.slice(line.indexOf(' ') + 1);
  if (majorOf(version) !== DEPLOYED_NODE_MAJOR) {
    throw new Error(
      `npx -y node@${DEPLOYED_NODE_MAJOR} ran Node ${version} (${execPath}), not ${DEPLOYED_NODE_MAJOR}: ` +
        "the node package's install script did not run (npm's ignore-scripts?): allow it and clear the " +
        `package from npm's npx cache, or run the suite on Node ${DEPLOYED_NODE_MAJOR}`,
    );
  }
  return execPath;
}
