import { expect } from 'vitest';
import type { ErrorCode, NstError } from '../../src/errors.js';

/** The error `f` throws (the test fails when it throws none). */
export const thrown = (f: () => unknown): NstError => {
  try {
    f();
  } catch (e) {
    return e as NstError;
  }
  throw new Error('expected an error');
};

/** Expects the promise to reject with an NstError of `code` whose message contains `mentions`. */
export async function expectCode(
  promise: Promise<unknown>,
  code: ErrorCode,
  mentions: string,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ name: 'NstError', code });
  expect((error as Error).message).toContain(mentions);
}
