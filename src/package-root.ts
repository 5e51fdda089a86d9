/**
 * The folder that holds this package's package.json: the repository in development, or
 * node_modules/serverless-style-transfer where the package is installed. Found by walking up, because the
 * same module runs from src/ (tests, tsx) and from dist/src/ (the built package).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NstError } from './errors.js';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new NstError('INTERNAL', `no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
