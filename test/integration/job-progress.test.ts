/**
 * Live progress through the pipeline's event handler against a real local S3 server: while a (slowed) job
 * runs, its job.json carries progress with done < total, written right after the first iteration and then
 * no more often than the interval (injected, longer than any run of this test, so it is a count, not a
 * timing); no ETA before the run's first ETA_MIN_ITERATIONS; the finished job keeps its last progress, at 100%.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { ETA_MIN_ITERATIONS } from '../../src/engine/run-clock.js';
import type { StyleEngine } from '../../src/engine/types.js';
import { readPipelineConfig } from '../../src/jobs/config.js';
import { handleEvent } from '../../src/jobs/intake/handler.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import type { WorkerDeps } from '../../src/jobs/run/run-context.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { buildWorkerDeps } from '../../src/jobs/wiring/build-deps.js';
import { BUCKET } from '../helpers/local-s3.js';
import { jpeg, lambdaContext, quietLogger, recordPuts, usePipelineFixture } from './harness.js';

const fixture = usePipelineFixture();

/** Two scales (32 px, then 45 px), 4 iterations each. */
const TWO_SCALES = {
  'nst-size': '45',
  'nst-min-size': '32',
  'nst-scale-growth': '1.4142',
  'nst-iterations': '4',
};
/** Each evaluation waits this long first: the job runs long enough to be watched. */
const EVALUATION_DELAY_MS = 150;
/** Longer than the test may run (vitest's timeout): after the first progress write, none within it. */
const PROGRESS_INTERVAL_MS = 10 * 60_000;

/** The real engines, each evaluation delayed. */
const slowEngines: WorkerDeps['createEngine'] = async (choice, spec) => {
  const engine = await createEngine(choice, spec);
  const slow: StyleEngine = {
    kind: engine.kind,
    backend: engine.backend,
    width: engine.width,
    height: engine.height,
    async lossAndGradient(x) {
      await new Promise((resolve) => setTimeout(resolve, EVALUATION_DELAY_MS));
      return engine.lossAndGradient(x);
    },
    dispose: () => engine.dispose(),
  };
  return slow;
};

describe('live progress in job.json', () => {
  it('shows a running job how far it is, and keeps the last progress when it has finished', async () => {
    const key = 'inputs/starry/watched.jpg';
    const event = await fixture.server.upload(key, await jpeg(), TWO_SCALES);
    const jobId = jobIdFor({ bucket: BUCKET, key, etag: event.Records[0].s3.object.eTag });
    const manifestKey = `outputs/${jobId}/job.json`;
    const puts = recordPuts(fixture.server.s3.client);
    const deps = buildWorkerDeps({
      config: readPipelineConfig({ NST_WEIGHTS_DIR: fixture.weightsDir }),
      worker: 'lambda',
      s3: fixture.server.s3.client,
      logger: quietLogger(),
      notifier: { started: async () => {}, finished: async () => {} },
      createEngine: slowEngines,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
    });
    const context = lambdaContext();

    const started = performance.now();
    const running = handleEvent(deps, { owner: context.awsRequestId, deadline: context }, event);
    // Read job.json as a user would, while the job runs.
    const seen: JobManifest[] = [];
    let finished = false;
    void running.finally(() => {
      finished = true;
    });
    while (!finished) {
      const m = (await fixture.server.store.getJson<JobManifest>(manifestKey))?.value;
      if (m?.progress && m.status === 'running') seen.push(m);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await running).toEqual([{ jobId, status: 'succeeded', detail: `outputs/${jobId}/result.jpg` }]);
    const seconds = (performance.now() - started) / 1000;

    const first = seen[0];
    expect(first, 'progress seen while running').toBeDefined();
    const p = first.progress!;
    expect(p.done).toBeLessThan(p.total);
    expect(p).toMatchObject({ scaleIndex: 0, scaleCount: 2, total: 8, scaleIterations: 4 });
    expect(p.percent).toBe(Math.floor((p.done * 1000) / p.total) / 10);
    expect(p.loss.total).toBeGreaterThan(0);
    expect(p.done).toBeLessThan(ETA_MIN_ITERATIONS);
    expect(p, 'no ETA from the first iterations (they include building the engine)').not.toHaveProperty(
      'etaSeconds',
    );
    expect(Date.parse(p.updatedAt)).toBeGreaterThan(Date.parse(first.timings.startedAt!));

    const final = (await fixture.server.store.getJson<JobManifest>(manifestKey))!.value;
    expect(final.status).toBe('succeeded');
    expect(final.progress).toMatchObject({ percent: 100, etaSeconds: 0, done: 8, total: 8, scaleIndex: 1 });
    // One progress write (right after the first iteration) between the status writes (running, succeeded):
    // the next would be due an interval later, after the job.
    const manifestPuts = puts.filter((put) => put.key === manifestKey).length;
    expect(manifestPuts).toBe(3);
    console.log(
      `job ${seconds.toFixed(1)} s, 8 iterations: first progress seen at iteration ${p.done}/${p.total} (${p.percent}%), ` +
        `${manifestPuts} job.json writes (2 status + 1 progress), final progress ${final.progress!.percent}%`,
    );
  });
});
