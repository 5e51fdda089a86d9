/**
 * Where infra/ and layers/ find this repository's files: the one home of every path they use. The Batch
 * Dockerfile cannot import these; test/infra/constructs/batch-gpu.test.ts binds its paths instead.
 */
import path from 'node:path';
import { PACKAGE_ROOT } from '../src/package-root.js';

/** The repository (or, installed, the package's folder). */
export const REPO_ROOT = PACKAGE_ROOT;

/** The lock file the function bundle and the runtime layer are built from. */
export const LOCK_FILE = path.join(REPO_ROOT, 'package-lock.json');

/** The stylize function's handler source. */
export const STYLIZE_ENTRY = path.join(REPO_ROOT, 'functions', 'stylize', 'index.ts');

/** The GPU worker's image: its build context holds the compiled worker (dist/), built before synth. */
export const BATCH_IMAGE = {
  /** The build context: the repository. */
  directory: REPO_ROOT,
  /** The Dockerfile, relative to the build context. */
  file: 'functions/batch/Dockerfile',
  /**
   * What the build context leaves out (Docker ignore syntax): all but what the Dockerfile copies, so synth
   * stages a few hundred kilobytes instead of node_modules.
   */
  exclude: [
    '*',
    '!package.json',
    '!package-lock.json',
    '!.npmrc',
    '!bin',
    '!dist',
    'dist/*',
    '!dist/src',
    '!dist/functions',
    'dist/functions/*',
    '!dist/functions/batch',
    '!functions',
    'functions/*',
    '!functions/batch',
    'functions/batch/*',
    '!functions/batch/Dockerfile',
  ],
} as const;
