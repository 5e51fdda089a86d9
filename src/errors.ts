/**
 * Typed errors with codes users can act on.
 *
 * `kind` tells callers what to do with a failure:
 * - `input`: the user's input is wrong (bad image, bad option, missing weights). Retrying will not help.
 *   The CLI exits with 2; the pipeline records the job as failed and does not retry.
 * - `transient`: a dependency was unavailable (S3, network). The pipeline rethrows so the platform retries.
 * - `internal`: a bug or an unexpected state. The CLI exits with 1.
 */
export type ErrorKind = 'input' | 'transient' | 'internal' | 'aborted';

export type ErrorCode =
  // images
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_EMPTY'
  | 'IMAGE_UNSUPPORTED'
  | 'IMAGE_CORRUPT'
  | 'IMAGE_TOO_LARGE'
  | 'OUTPUT_FORMAT_UNSUPPORTED'
  // options and specs
  | 'INVALID_OPTION'
  | 'INVALID_JOB_SPEC'
  | 'STYLE_NOT_FOUND'
  // weights
  | 'WEIGHTS_NOT_FOUND'
  | 'WEIGHTS_INVALID'
  | 'WEIGHTS_DOWNLOAD_FAILED'
  | 'WEIGHTS_CHECKSUM_MISMATCH'
  // engines and runs
  | 'ENGINE_UNAVAILABLE'
  | 'JOB_TOO_LARGE'
  | 'ABORTED'
  | 'STORAGE_UNAVAILABLE'
  | 'INTERNAL'
  // the pipeline
  | 'INPUT_CHANGED'
  | 'NOTIFICATION_FAILED'
  | 'DISPATCH_FAILED'
  | 'BATCH_JOB_FAILED';

export class NstError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options: { kind?: ErrorKind; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NstError';
    this.code = code;
    this.kind = options.kind ?? 'input';
  }
}

export const inputError = (code: ErrorCode, message: string, cause?: unknown): NstError =>
  new NstError(code, message, { kind: 'input', cause });

export const isNstError = (e: unknown): e is NstError => e instanceof NstError;

/** Wraps anything thrown into an NstError, keeping typed errors as they are. */
export function toNstError(e: unknown): NstError {
  if (isNstError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new NstError('INTERNAL', message, { kind: 'internal', cause: e });
}
