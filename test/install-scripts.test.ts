/**
 * `npm ci` needs only the npm registry and prints no warning: every dependency with an install script has
 * an explicit allowScripts decision, and .npmrc holds only settings npm knows.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/paths.js';

const readJson = (file: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'));

describe('dependency install scripts', () => {
  it('each one the lock file lists has an allowScripts decision: denied', () => {
    const lock = readJson('package-lock.json') as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    const withScripts = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([at]) => at.replace(/^.*node_modules\//, ''))
      .sort();
    const allowScripts = readJson('package.json').allowScripts as Record<string, boolean>;
    expect(Object.keys(allowScripts).sort()).toEqual(withScripts);
    expect(Object.values(allowScripts).every((allowed) => allowed === false)).toBe(true);
  });

  it('npm reads the project configuration without a warning', async () => {
    const { stderr } = await promisify(execFile)('npm', ['config', 'list'], { cwd: REPO_ROOT });
    expect(stderr).not.toMatch(/warn/i);
  });
});
