/**
 * stopBeforeDeadline (run/deadline.ts): a run stops `marginSeconds` before the Lambda's deadline, by a
 * timer, by the check after each iteration, or before a scale whose set-up would not fit; without a
 * deadline (Batch, local mode) it never stops. A fake deadline whose time left the test sets, and fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ScaleCosting, scaleSeconds } from '../../../../src/engine/cost-model.js';
import type { ScaleStart } from '../../../../src/engine/stylize.js';
import { stopBeforeDeadline } from '../../../../src/jobs/run/deadline.js';
import { ESTIMATE_SAFETY_FACTOR } from '../../../../src/jobs/run/routing.js';

const MARGIN_S = 60;
const MARGIN_MS = MARGIN_S * 1000;
const COSTING: ScaleCosting = { engine: 'onnx', threads: 2 };

const scale = (scaleIndex: number, size: number): ScaleStart => ({
  scaleIndex,
  iteration: 0,
  width: size,
  height: size,
  iterations: 100,
});
const FIRST = scale(0, 512);
const LARGE = scale(1, 2048);
/** What the check before LARGE allows for: its set-up and 3 evaluations, times the routing's safety factor. */
const LARGE_NEEDS_MS = scaleSeconds(LARGE, 3, COSTING) * ESTIMATE_SAFETY_FACTOR * 1000;

/** A Lambda context's deadline, whose time left the test moves. */
function deadline(remainingMs: number) {
  const d = { remainingMs, getRemainingTimeInMillis: () => d.remainingMs };
  return d;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('without a deadline', () => {
  it('never aborts, sets no timer, and starts every scale', () => {
    const stop = stopBeforeDeadline(undefined, MARGIN_S, COSTING);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(24 * 3600_000);
    stop.check();
    expect(stop.beforeScale(FIRST)).toBe(false);
    expect(stop.beforeScale(LARGE)).toBe(false);
    expect(stop.beforeScale(scale(2, 4096))).toBe(false);
    expect(stop.signal.aborted).toBe(false);
  });
});

describe('with a deadline', () => {
  it('aborts by its timer when the margin is reached, and not before', () => {
    const stop = stopBeforeDeadline(deadline(MARGIN_MS + 5000), MARGIN_S);
    vi.advanceTimersByTime(4999);
    expect(stop.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(stop.signal.aborted).toBe(true);
  });

  it('aborts at once when the margin has already passed', () => {
    const stop = stopBeforeDeadline(deadline(MARGIN_MS - 1), MARGIN_S);
    vi.advanceTimersByTime(0);
    expect(stop.signal.aborted).toBe(true);
  });

  it('check() aborts once the time left is within the margin', () => {
    const d = deadline(MARGIN_MS + 1);
    const stop = stopBeforeDeadline(d, MARGIN_S);
    stop.check();
    expect(stop.signal.aborted).toBe(false);
    d.remainingMs = MARGIN_MS;
    stop.check();
    expect(stop.signal.aborted).toBe(true);
  });

  it('clear() stops the timer', () => {
    const stop = stopBeforeDeadline(deadline(MARGIN_MS + 1000), MARGIN_S);
    expect(vi.getTimerCount()).toBe(1);
    stop.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(stop.signal.aborted).toBe(false);
  });
});

describe('before each scale', () => {
  it('starts the first scale however little time is left', () => {
    const stop = stopBeforeDeadline(deadline(MARGIN_MS + 1), MARGIN_S, COSTING);
    expect(stop.beforeScale(FIRST)).toBe(false);
    expect(stop.signal.aborted).toBe(false);
  });

  it('stops before a later scale whose set-up and first evaluations do not fit before the margin', () => {
    // 2048 px on 2 threads: far more than the set-up alone (1.5 s).
    expect(LARGE_NEEDS_MS).toBeGreaterThan(10_000);
    const d = deadline(MARGIN_MS + Math.floor(LARGE_NEEDS_MS) - 1);
    const stop = stopBeforeDeadline(d, MARGIN_S, COSTING);
    expect(stop.beforeScale(FIRST)).toBe(false);
    expect(stop.beforeScale(LARGE)).toBe(true);
    expect(stop.signal.aborted).toBe(true);
  });

  it('starts a later scale that fits', () => {
    const d = deadline(MARGIN_MS + Math.ceil(LARGE_NEEDS_MS));
    const stop = stopBeforeDeadline(d, MARGIN_S, COSTING);
    expect(stop.beforeScale(FIRST)).toBe(false);
    expect(stop.beforeScale(LARGE)).toBe(false);
    expect(stop.signal.aborted).toBe(false);
  });

  it('without a costing, starts a later scale while any time is left before the margin', () => {
    const d = deadline(MARGIN_MS + 1);
    const stop = stopBeforeDeadline(d, MARGIN_S);
    expect(stop.beforeScale(FIRST)).toBe(false);
    expect(stop.beforeScale(LARGE)).toBe(false);
    d.remainingMs = MARGIN_MS - 1;
    expect(stop.beforeScale(scale(2, 4096))).toBe(true);
    expect(stop.signal.aborted).toBe(true);
  });

  it('stops even the first scale once the run was aborted', () => {
    const stop = stopBeforeDeadline(deadline(MARGIN_MS + 1000), MARGIN_S, COSTING);
    vi.advanceTimersByTime(1000);
    expect(stop.beforeScale(FIRST)).toBe(true);
  });
});
