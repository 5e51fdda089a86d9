/**
 * Exit codes of the `nst` command: 0 ok, else the error policy's code for the error's kind (src/errors.ts):
 * 2 bad input (fix your input), 1 anything else (try again, or report a bug).
 */
import { ERROR_POLICY, toNstError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = ERROR_POLICY.input.exitCode;

/** Prints the error for a person and returns the exit code it deserves. */
export function reportError(error: unknown): number {
  const e = toNstError(error);
  const exitCode = ERROR_POLICY[e.kind].exitCode;
  process.stderr.write(`nst: error ${e.code}: ${e.message}\n`);
  // A stack helps with a bug, not with a bad input.
  if (exitCode !== EXIT_BAD_INPUT && process.env.NST_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  return exitCode;
}
