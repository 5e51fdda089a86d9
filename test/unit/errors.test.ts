import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_KINDS, ERROR_POLICY, type ErrorCode, NstError, toNstError } from '../../src/errors.js';

const CODES = Object.keys(ERROR_KINDS) as ErrorCode[];

describe('errors: one table from code to kind to handling', () => {
  it('gives every error the kind its code has in the table', () => {
    for (const code of CODES) expect(new NstError(code, 'x').kind, code).toBe(ERROR_KINDS[code]);
  });

  it('exits 2 for input errors only, and retries transient and aborted runs only', () => {
    expect(ERROR_POLICY.input).toMatchObject({ exitCode: 2, retry: false });
    expect(ERROR_POLICY.internal).toMatchObject({ exitCode: 1, retry: false });
    expect(ERROR_POLICY.transient).toMatchObject({ exitCode: 1, retry: true });
    expect(ERROR_POLICY.aborted).toMatchObject({ exitCode: 1, retry: true });
  });

  it('wraps anything else as INTERNAL, an internal error, keeping typed errors as they are', () => {
    const typed = new NstError('IMAGE_CORRUPT', 'bad');
    expect(toNstError(typed)).toBe(typed);
    expect(toNstError(new TypeError('boom'))).toMatchObject({
      code: 'INTERNAL',
      kind: 'internal',
      message: 'boom',
    });
    expect(toNstError('text')).toMatchObject({ code: 'INTERNAL', message: 'text' });
  });

  it('is the table docs/ARCHITECTURE.md prints', async () => {
    const doc = await readFile(path.resolve(import.meta.dirname, '../../docs/ARCHITECTURE.md'), 'utf8');
    const rows = new Map(
      [...doc.matchAll(/^\| `([A-Z_]+)` \| (\w+) \|/gm)].map(([, code, kind]) => [code, kind] as const),
    );
    expect(Object.fromEntries(rows)).toEqual(ERROR_KINDS);
  });
});
