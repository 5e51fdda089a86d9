/** Exit codes of the `nst` command: 0 ok, 2 bad input (fix your input), 1 internal error (report a bug). */
import { isNstError, toNstError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_BAD_INPUT = 2;

/** Prints the error for a person and returns the exit code it deserves. */
export function reportError(error: unknown): number {
  const e = toNstError(error);
  const input = isNstError(error) && e.kind === 'input';
  process.stderr.write(`nst: error ${e.code}: ${e.message}\n`);
  if (!input && process.env.NST_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  return input ? EXIT_BAD_INPUT : EXIT_INTERNAL;
}
