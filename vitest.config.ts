import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The engines use every core; files run one at a time so timings and memory stay sane on 2 cores.
    fileParallelism: false,
    pool: 'forks',
  },
});
