import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSupportedNode, unsupportedNodeLine } from '../../../src/cli/node-support.js';

const BIN = path.resolve(import.meta.dirname, '../../../bin/nst.js');

/** The raw stderr of `nst` (the test helper takes the notice off; this one keeps it). */
function rawStderr(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _, ...env } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => resolve(stderr));
  });
}

describe('supported Node.js versions', () => {
  it('are 22 from 22.12, and 24 on; the others get one line naming the version', () => {
    for (const v of ['22.12.0', '22.21.1', '24.0.0', '24.11.1', '26.1.0', 'v24.2.0']) {
      expect(isSupportedNode(v), v).toBe(true);
      expect(unsupportedNodeLine(v)).toBeUndefined();
    }
    for (const v of ['20.20.2', '22.11.0', '23.11.1', '18.20.8']) expect(isSupportedNode(v), v).toBe(false);
    expect(unsupportedNodeLine('20.20.2')).toBe(
      'nst: Node.js 20.20.2 is unsupported (end of life or too old); use Node.js 22.12+ or 24+\n',
    );
  });

  it("a command that loads the AWS SDK prints the one line at most, never the SDK's warning", async () => {
    // Nothing listens on port 1: the SDK client is made, its request fails at once.
    const stderr = await rawStderr(['status', 'nope', '--endpoint', 'http://127.0.0.1:1']);
    expect(stderr).toContain('STORAGE_UNAVAILABLE');
    expect(stderr).not.toContain('NodeVersionSupportWarning');
    const notice = unsupportedNodeLine();
    if (notice) expect(stderr.startsWith(notice) && stderr.split(notice).length === 2).toBe(true);
    else expect(stderr).not.toContain('unsupported');
  });
});
