/**
 * Which Node.js versions the package supports (package.json's engines: `^22.12.0 || >=24`). An older one
 * still runs the CLI, with one line that says so instead of the AWS SDK's ten-line warning at its first
 * client.
 */

/** The oldest supported major. */
export const OLDEST_SUPPORTED_NODE_MAJOR = 22;

/** The AWS SDK's own switch for its warning about old Node.js versions. */
const SDK_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/** The line an unsupported Node.js gets, or undefined for a supported one. */
export function unsupportedNodeLine(version: string = process.versions.node): string | undefined {
  if (Number(version.split('.')[0]) >= OLDEST_SUPPORTED_NODE_MAJOR) return undefined;
  return `nst: Node.js ${version} is past its end of life and unsupported; use Node.js 22.12 or later, or 24\n`;
}

/** Says once that this Node.js is unsupported, and keeps the SDK from saying it again at length. */
export function warnIfUnsupportedNode(): void {
  const line = unsupportedNodeLine();
  if (!line) return;
  process.stderr.write(line);
  process.env[SDK_WARNING_SWITCH] = 'true';
}
