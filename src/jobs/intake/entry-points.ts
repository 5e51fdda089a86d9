/**
 * The ways a job reaches a worker, shared by the Lambda handler, the Batch worker and the local mode. Each
 * claims the job under its lock (lifecycle/locked-job.ts: duplicates stop there, and every failure ends by
 * the error policy), opens its lifecycle, and runs it (run/run-job.ts), which may hand it off to Batch or a
 * continuation. Two more end jobs whose workers cannot: a failed Batch job, and a dead-lettered event.
 */
import { NstError } from '../../errors.js';
import { type ObjectStore, PreconditionFailed, sameEtag } from '../../storage/object-store.js';
import { PIPELINE_ENV } from '../config.js';
import type { JobOutcome } from '../lifecycle/locked-job.js';
import { type Invocation, withLockedJob } from '../lifecycle/locked-job.js';
import { type JobManifest, newManifest } from '../lifecycle/manifest.js';
import type { WorkerDeps } from '../run/run-context.js';
import { runJob } from '../run/run-job.js';
import { readOptionsOf, type UploadVersion, uploadJobId } from '../spec/job-id.js';
import { classifyKey, type Trigger, waitedSpecKey } from '../spec/keys.js';
import { MAX_SPEC_BYTES, taskTokenIn } from '../spec/spec.js';
import type { NamedJob, WaitedJobEvent } from './events.js';

/** A job for an uploaded object (a drop-in photo or a jobs/*.json spec). */
export async function runUploadedJob(
  deps: WorkerDeps,
  inv: Invocation,
  upload: UploadVersion,
): Promise<JobOutcome> {
  const trigger = classifyKey(upload.key);
  const source = jobSource(upload, trigger);
  if (!source) return { key: upload.key, status: 'skipped', detail: 'not a job' };
  const jobId = await uploadJobId(deps.storeFor(upload.bucket), upload);
  return withLockedJob(deps, inv, { bucket: upload.bucket, jobId }, 'event', (claim, existing) => {
    // An id given in advance names one upload: another object claiming it is not a delivery of it.
    if (existing && !isSameUpload(existing.source, source)) {
      claim.log.error('an upload claims the job id of another upload: not run', { key: upload.key });
      return claim.skip(`job ${jobId} belongs to ${existing.source.key}, not this upload of ${upload.key}`);
    }
    const job = claim.open(existing ?? newManifest(jobId, upload.bucket, source, claim.now()));
    // A retried event finds the spec in job.json: it is not resolved again.
    const { spec } = job.manifest;
    return runJob({ claim, job, deps }, spec ? { spec } : { trigger, upload });
  });
}

/**
 * A job a Step Functions task waits on, invoked directly (`.waitForTaskToken`): its spec, token included,
 * is written under jobs/ (created once: a retried invoke writes nothing new), and that upload runs it as
 * any spec's does, answering the task at its end (an invalid spec's job fails, and the task hears it).
 */
export async function submitWaitedJob(deps: WorkerDeps, event: WaitedJobEvent): Promise<JobOutcome[]> {
  const { bucket = deps.config.bucket, ...spec } = event;
  if (typeof bucket !== 'string' || bucket === '') {
    throw new NstError(
      'INVALID_JOB_SPEC',
      `a job invoked with a task token names no bucket: add "bucket" to the payload, or set ${PIPELINE_ENV.bucket}`,
    );
  }
  // A spec too large to be read back could never tell its task: refused here, as the invoke's error.
  // Any other problem is the job's to find, so the task hears it as any spec's failure.
  const text = JSON.stringify(spec, null, 2);
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES)
    throw new NstError('INVALID_JOB_SPEC', `the task's spec is over ${MAX_SPEC_BYTES} bytes`);
  const store = deps.storeFor(bucket);
  const key = waitedSpecKey(spec.taskToken);
  try {
    await store.put(key, `${text}\n`, { contentType: 'application/json', ifNoneMatch: '*' });
  } catch (e) {
    if (!(e instanceof PreconditionFailed)) throw e;
  }
  return [{ key, status: 'queued', detail: `spec written to ${store.uri(key)}` }];
}

/**
 * The job.json a dead job that never wrote one would have had: its upload, and the task token of its spec
 * (read again), so a waiting workflow hears the job's end too.
 */
async function manifestOfUpload(
  store: ObjectStore,
  target: NamedJob,
  now: Date,
): Promise<JobManifest | undefined> {
  const source = target.upload && jobSource(target.upload);
  if (!target.upload || !source) return undefined;
  const manifest = newManifest(target.jobId, target.bucket, source, now);
  if (source.kind !== 'spec') return manifest;
  // This upload's spec only: another one at the key now names another task.
  const read = await store
    .read(source.key, { ...readOptionsOf(source), maxBytes: MAX_SPEC_BYTES })
    .catch((e: unknown) => {
      if (e instanceof PreconditionFailed) return undefined;
      throw e;
    });
  const taskToken = read?.status === 'found' ? taskTokenIn(read.object.body.toString('utf8')) : undefined;
  return taskToken ? { ...manifest, taskToken } : manifest;
}

const isSameUpload = (a: JobManifest['source'], b: JobManifest['source']) =>
  a.key === b.key &&
  sameEtag(a.etag, b.etag) &&
  (a.versionId === undefined || b.versionId === undefined || a.versionId === b.versionId);

/** What job.json records of the upload that started a job (undefined: the key is not a job). */
function jobSource(
  upload: UploadVersion,
  trigger: Trigger = classifyKey(upload.key),
): JobManifest['source'] | undefined {
  if (trigger.kind === 'ignored') return undefined;
  return {
    key: upload.key,
    kind: trigger.kind,
    etag: upload.etag,
    ...(upload.versionId ? { versionId: upload.versionId } : {}),
  };
}

/** Continues a job from its job.json (and checkpoint): a continuation invocation or the Batch worker. */
export async function continueJob(
  deps: WorkerDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string },
  claimant: 'continuation' | 'batch',
): Promise<JobOutcome> {
  return withLockedJob(deps, inv, target, claimant, (claim, existing) => {
    const spec = existing?.spec;
    if (!existing || !spec) return claim.skip(`no job.json with a spec for ${target.jobId}`);
    return runJob({ claim, job: claim.open(existing), deps }, { spec });
  });
}

/**
 * Reasons the job queue's RUNNABLE time limit cancels a job with (jobStateTimeLimitActions): no instance
 * could be placed, for want of capacity or quota. Batch reports them inside a longer status reason
 * ("Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY").
 */
const NO_CAPACITY_REASON = /\b(CAPACITY|MISCONFIGURATION):/;

/** Marks a job failed after its Batch job failed (Batch's job state-change event). */
export async function failBatchJob(
  deps: WorkerDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string; batchJobId: string; reason: string },
): Promise<JobOutcome> {
  return withLockedJob(deps, inv, target, 'batch', async (claim, existing) => {
    if (!existing) return claim.skip(`no job.json for ${target.jobId}`);
    claim.open(existing);
    const { batchJobId, reason } = target;
    if (NO_CAPACITY_REASON.test(reason)) {
      throw new NstError(
        'BATCH_NO_CAPACITY',
        `AWS Batch job ${batchJobId} was cancelled: no GPU capacity or quota was available within the ` +
          `queue's time limit for waiting (${reason}); try again later, or raise the GPU instance quota`,
      );
    }
    throw new NstError('BATCH_JOB_FAILED', `AWS Batch job ${batchJobId} failed: ${reason}`);
  });
}

/**
 * Ends a job whose event was dead-lettered (its retries ran out): job.json `failed` with JOB_ABANDONED
 * and one notification, unless it finished. A job.json is made from the upload when there is none (the
 * worker died before writing one). It takes the lock like any worker, waiting up to a lease for a dead
 * holder's to run out; a holder that keeps renewing is alive, and is left to finish the job itself (or,
 * if it dies too, to the sweeper).
 */
export async function abandonJob(
  deps: WorkerDeps,
  inv: Invocation,
  target: NamedJob,
  dead: { attempts: number; lastError: string },
): Promise<JobOutcome> {
  const outcome = await withLockedJob(
    deps,
    inv,
    target,
    target.claimant,
    async (claim, existing) => {
      const manifest = existing ?? (await manifestOfUpload(claim.store, target, claim.now()));
      if (!manifest) return claim.skip(`no job.json for ${target.jobId} and no upload to make one from`);
      claim.open(manifest);
      throw new NstError(
        'JOB_ABANDONED',
        `the job's worker failed or died after ${dead.attempts} attempts; the last error: ${dead.lastError}`,
      );
    },
    deps.config.leaseSeconds + 5,
  );
  if (outcome.status === 'skipped' && outcome.detail === 'running')
    deps.logger.warn('dead letter for a job whose worker is alive: left to it', { jobId: target.jobId });
  return outcome;
}
