/**
 * Stops a run `marginSeconds` before the Lambda's deadline, leaving time to checkpoint and hand off: a
 * timer (in case an iteration is slow), and a check the run makes after every iteration.
 */

export interface DeadlineStop {
  /** Aborted when the deadline is near. */
  readonly signal: AbortSignal;
  /** Aborts the signal when the deadline is near (call after each iteration). */
  check(): void;
  clear(): void;
}

/** Without a deadline (Batch, local), the signal never aborts. */
export function stopBeforeDeadline(
  deadline: { getRemainingTimeInMillis(): number } | undefined,
  marginSeconds: number,
): DeadlineStop {
  const marginMs = marginSeconds * 1000;
  const stop = new AbortController();
  const timer = deadline
    ? setTimeout(() => stop.abort(), Math.max(0, deadline.getRemainingTimeInMillis() - marginMs))
    : undefined;
  timer?.unref();
  return {
    signal: stop.signal,
    check() {
      if (deadline && deadline.getRemainingTimeInMillis() <= marginMs) stop.abort();
    },
    clear: () => clearTimeout(timer),
  };
}
