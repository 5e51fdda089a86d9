/**
 * Which Node.js versions the package supports: package.json's engines, `^22.12.0 || >=24`
 * (test/node-versions.test.ts binds the two). An unsupported one still runs the CLI, with one line that
 * says so instead of the AWS SDK's ten-line warning at its first client.
 */

/** The supported releases: 22 from 22.12 (its require(esm) and LTS fixes), and every major from 24 on. */
export const SUPPORTED_NODE = { lts: { major: 22, minor: 12 }, fromMajor: 24 } as const;

/** The engines range SUPPORTED_NODE stands for. */
export const SUPPORTED_NODE_RANGE = `^${SUPPORTED_NODE.lts.major}.${SUPPORTED_NODE.lts.minor}.0 || >=${SUPPORTED_NODE.fromMajor}`;

/** The AWS SDK's own switch for its warning about old Node.js versions. */
const SDK_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

export function isSupportedNode(version: string): boolean {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  const { lts, fromMajor } = SUPPORTED_NODE;
  return major >= fromMajor || (major === lts.major && minor >= lts.minor);
}

/** The line an unsupported Node.js gets, or undefined for a supported one. */
export function unsupportedNodeLine(version: string = process.versions.node): string | undefined {
  if (isSupportedNode(version)) return undefined;
  const { lts, fromMajor } = SUPPORTED_NODE;
  return `nst: Node.js ${version} is unsupported (end of life or too old); use Node.js ${lts.major}.${lts.minor}+ or ${fromMajor}+\n`;
}

/** Says once that this Node.js is unsupported, and keeps the SDK from saying it again at length. */
export function warnIfUnsupportedNode(): void {
  const line = unsupportedNodeLine();
  if (!line) return;
  process.stderr.write(line);
  process.env[SDK_WARNING_SWITCH] = 'true';
}
