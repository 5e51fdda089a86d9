import { describe, expect, it } from 'vitest';
import { tileWorkersOfEachJob } from '../../../../src/jobs/local/local-pipeline.js';

describe('tile workers of each job in local mode', () => {
  it('sizes them by machine (auto) when one job runs at a time', () => {
    expect(tileWorkersOfEachJob({})).toBe('auto');
    expect(tileWorkersOfEachJob({ concurrency: 1, tileWorkers: 'auto' })).toBe('auto');
  });

  it('runs tiles in turn by default when jobs run concurrently, which would share the free memory', () => {
    expect(tileWorkersOfEachJob({ concurrency: 2 })).toBe(1);
    expect(tileWorkersOfEachJob({ concurrency: 3, tileWorkers: 'auto' })).toBe(1);
  });

  it('keeps a number asked for', () => {
    expect(tileWorkersOfEachJob({ concurrency: 2, tileWorkers: 2 })).toBe(2);
    expect(tileWorkersOfEachJob({ tileWorkers: 3 })).toBe(3);
  });
});
