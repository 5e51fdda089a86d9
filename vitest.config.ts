import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The engines use every core; files run one at a time so timings and memory stay sane on 2 cores.
    fileParallelism: false,
    pool: 'forks',
    // One worker process runs every file in turn, so aws-cdk-lib, the engines and sharp load once rather than
    // once per file (the infra tests alone took 40 s isolated, 12 s not). Files leave no state behind: they
    // close their servers, restore their stubs and remove their temp folders.
    isolate: false,
    // On Node.js 20 the AWS SDK warns at length in every process that makes a client; nst says it in one
    // line (src/cli/node-support.ts; test/unit/cli/node-support.test.ts runs nst without this switch).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
