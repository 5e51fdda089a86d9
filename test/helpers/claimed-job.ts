/**
 * A job claimed over the in-memory S3 (memory-s3.ts), for fast tests of the lifecycle: the lifecycle's
 * dependencies with a recording notifier and metrics, and a way to run a body on the claimed, opened job.
 */
import type { ErrorCode } from '../../src/errors.js';
import type { JobClaim, LifecycleDeps } from '../../src/jobs/lifecycle/job-claim.js';
import type { JobLifecycle } from '../../src/jobs/lifecycle/job-lifecycle.js';
import { type JobOutcome, withLockedJob } from '../../src/jobs/lifecycle/locked-job.js';
import { type JobManifest, newManifest } from '../../src/jobs/lifecycle/manifest.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { outputKeys } from '../../src/jobs/spec/keys.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { type MemoryS3, memoryS3 } from './memory-s3.js';
import { silentLogger } from './worker-deps.js';

export const BUCKET = 'bucket';
export const JOB_ID = 'photo-0123456789ab';
export const KEYS = outputKeys(JOB_ID);
const SOURCE: JobManifest['source'] = { key: 'inputs/starry/photo.jpg', kind: 'drop-in', etag: '"e"' };
const LEASE_SECONDS = 30;

export interface ClaimedJobWorld {
  readonly s3: MemoryS3;
  readonly store: ObjectStore;
  readonly deps: LifecycleDeps;
  /** Finished jobs told, each with the bucket's write count when it was. */
  readonly notified: { readonly notification: JobNotification; readonly afterWrites: number }[];
  /** First runs told, likewise. */
  readonly started: { readonly notification: JobNotification; readonly afterWrites: number }[];
  readonly metrics: { readonly succeeded: number[]; readonly failed: ErrorCode[] };
  /** Claims the job as `owner` and runs `body` on it, opened from job.json or a new manifest. */
  run(body: (job: JobLifecycle, claim: JobClaim) => Promise<JobOutcome>, owner?: string): Promise<JobOutcome>;
  /** job.json as stored. */
  manifest(): JobManifest | undefined;
  /** The keys written (PutObject, DeleteObject), in order. */
  writtenKeys(): string[];
}

export function claimedJobWorld(overrides: Partial<LifecycleDeps> = {}): ClaimedJobWorld {
  const s3 = memoryS3();
  const store = new ObjectStore(s3.client, BUCKET);
  const notified: ClaimedJobWorld['notified'] = [];
  const started: ClaimedJobWorld['started'] = [];
  const metrics = { succeeded: [] as number[], failed: [] as ErrorCode[] };
  const deps: LifecycleDeps = {
    config: { leaseSeconds: LEASE_SECONDS },
    storeFor: () => store,
    notifier: {
      started: async (notification) => {
        started.push({ notification, afterWrites: s3.writes().length });
      },
      finished: async (notification) => {
        notified.push({ notification, afterWrites: s3.writes().length });
      },
    },
    logger: silentLogger(),
    metrics: {
      succeeded: ({ iterations }) => metrics.succeeded.push(iterations),
      failed: (code) => metrics.failed.push(code),
    },
    progressIntervalMs: 0,
    ...overrides,
  };
  const read = () => {
    const object = s3.object(KEYS.manifest);
    return object ? (JSON.parse(object.body.toString('utf8')) as JobManifest) : undefined;
  };
  return {
    s3,
    store,
    deps,
    notified,
    started,
    metrics,
    run: (body, owner = 'worker-1') =>
      withLockedJob(deps, { owner }, { bucket: BUCKET, jobId: JOB_ID }, 'event', async (claim, existing) =>
        body(claim.open(existing ?? newManifest(JOB_ID, BUCKET, SOURCE, claim.now())), claim),
      ),
    manifest: read,
    writtenKeys: () => s3.writes().map((w) => w.key),
  };
}
