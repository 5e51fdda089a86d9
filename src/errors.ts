/**
 * Typed errors with codes users can act on. One table says, for every code, what kind of failure it is;
 * the kind says what every caller does with it (the CLI's exit code, the pipeline's retry policy), so a
 * code always means the same thing wherever it is thrown. docs/ARCHITECTURE.md prints the table.
 */

/** What a failure means for whoever handles it. */
export type ErrorKind = 'input' | 'transient' | 'aborted' | 'internal';

/** How each kind of failure is handled. */
export const ERROR_POLICY: Readonly<
  Record<ErrorKind, { readonly exitCode: number; readonly retry: boolean; readonly meaning: string }>
> = {
  // The user's input is wrong (bad image, option, spec or weights): retrying cannot help.
  input: { exitCode: 2, retry: false, meaning: 'fix the input; the job fails without retries' },
  // A dependency was unavailable (S3, SNS, network): the pipeline rethrows so the platform retries.
  transient: { exitCode: 1, retry: true, meaning: 'try again; the pipeline retries the event' },
  // The run was stopped (deadline, lost lock): it writes nothing and someone else continues.
  aborted: { exitCode: 1, retry: true, meaning: 'stopped; the job continues elsewhere' },
  // A bug, a broken deployment or an unexpected state: the job fails, report it.
  internal: { exitCode: 1, retry: false, meaning: 'a bug or a broken deployment; the job fails' },
};

/** Every error code and its kind. */
export const ERROR_KINDS = {
  // images
  IMAGE_NOT_FOUND: 'input',
  IMAGE_EMPTY: 'input',
  IMAGE_UNSUPPORTED: 'input',
  IMAGE_CORRUPT: 'input',
  IMAGE_TOO_LARGE: 'input',
  /** An object's bytes exceed the limit (NST_MAX_INPUT_BYTES); found before it is downloaded. */
  INPUT_TOO_LARGE: 'input',
  OUTPUT_FORMAT_UNSUPPORTED: 'input',
  // options and specs
  INVALID_OPTION: 'input',
  INVALID_JOB_SPEC: 'input',
  STYLE_NOT_FOUND: 'input',
  // weights
  WEIGHTS_NOT_FOUND: 'input',
  WEIGHTS_INVALID: 'input',
  WEIGHTS_CHECKSUM_MISMATCH: 'input',
  // engines and runs
  JOB_TOO_LARGE: 'input',
  ENGINE_UNAVAILABLE: 'internal',
  ABORTED: 'aborted',
  INTERNAL: 'internal',
  // the deployment's own settings (environment variables, build inputs)
  INVALID_CONFIG: 'internal',
  // dependencies
  STORAGE_UNAVAILABLE: 'transient',
  NOTIFICATION_FAILED: 'transient',
  DISPATCH_FAILED: 'transient',
  WEIGHTS_DOWNLOAD_FAILED: 'transient',
  // the pipeline
  INPUT_CHANGED: 'input',
  BATCH_JOB_FAILED: 'internal',
  /** The Batch job was cancelled after waiting RUNNABLE too long: no GPU capacity or quota. */
  BATCH_NO_CAPACITY: 'internal',
  /** The Step Functions execution of a job's tiles failed, timed out or was stopped. */
  TILES_FAILED: 'internal',
  /** The job's worker died or its retries ran out (the dead-letter consumer, the sweeper). */
  JOB_ABANDONED: 'internal',
  /** A job that finished (job.json written) but whose last bookkeeping failed: retried to finish it. */
  JOB_NOT_CLOSED: 'transient',
  /** `nst submit --wait` gave up waiting; the job may still finish. */
  WAIT_TIMED_OUT: 'transient',
  /** `nst status`: no job.json for that job id or input key. */
  JOB_NOT_FOUND: 'input',
  /** `nst status`: the upload exists but its job has not written job.json yet (ask again shortly). */
  JOB_PENDING: 'transient',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_KINDS;

export class NstError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NstError';
    this.code = code;
    this.kind = ERROR_KINDS[code];
  }
}

export const isNstError = (e: unknown): e is NstError => e instanceof NstError;

/** Wraps anything thrown into an NstError, keeping typed errors as they are. */
export function toNstError(e: unknown): NstError {
  if (isNstError(e)) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new NstError('INTERNAL', message, { cause: e });
}
