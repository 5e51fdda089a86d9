/** Tiled runs of the engine driver for tests: one stopped once its first tile is done. */
import { expect } from 'vitest';
import type { StylizeOptions } from '../../src/engine/options.js';
import { StylizeAborted, type StylizeContext, type StylizeInput, stylize } from '../../src/engine/stylize.js';

/** Runs `stylize` and aborts it when its first tile is done; returns the StylizeAborted it ends with. */
export async function abortedAtFirstTile(
  input: StylizeInput,
  options: StylizeOptions,
  context: Omit<StylizeContext, 'signal' | 'onProgress'>,
): Promise<StylizeAborted> {
  const stop = new AbortController();
  const run = stylize(input, options, {
    ...context,
    signal: stop.signal,
    onProgress: (p) => {
      if (p.tiles?.done === 1) stop.abort();
    },
  });
  const aborted = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(aborted).toBeInstanceOf(StylizeAborted);
  return aborted as StylizeAborted;
}
