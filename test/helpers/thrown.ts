import type { NstError } from '../../src/errors.js';

/** The error `f` throws (the test fails when it throws none). */
export const thrown = (f: () => unknown): NstError => {
  try {
    f();
  } catch (e) {
    return e as NstError;
  }
  throw new Error('expected an error');
};
