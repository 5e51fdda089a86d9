/**
 * The job runner shared by the Lambda handler, the Batch worker and the local mode: its entry points, one
 * per way a job reaches a worker. Each runs the job under its lock (locked-job.ts: duplicates stop there,
 * and every failure ends by the error policy), then resolves the spec and runs it (stylize-job.ts), which
 * may hand it off to Batch or a continuation (hand-off.ts).
 */
import { NstError } from '../errors.js';
import { resolveJob } from './inputs.js';
import { jobIdFor, type UploadVersion } from './job-id.js';
import { classifyKey } from './keys.js';
import { type Invocation, type JobOutcome, withLockedJob } from './locked-job.js';
import { newManifest } from './manifest.js';
import type { PipelineDeps } from './pipeline-deps.js';
import { stylizeJob } from './stylize-job.js';

/** A job for an uploaded object (a drop-in photo or a jobs/*.json spec). */
export async function runUploadedJob(
  deps: PipelineDeps,
  inv: Invocation,
  upload: UploadVersion,
): Promise<JobOutcome> {
  const trigger = classifyKey(upload.key);
  if (trigger.kind === 'ignored') return { key: upload.key, status: 'skipped', detail: 'not a job' };
  const jobId = jobIdFor(upload);
  return withLockedJob(deps, inv, { bucket: upload.bucket, jobId }, 'event', async (job, existing) => {
    const source = {
      key: upload.key,
      kind: trigger.kind,
      etag: upload.etag,
      ...(upload.versionId ? { versionId: upload.versionId } : {}),
    };
    job.manifest = existing ?? newManifest(jobId, upload.bucket, source, job.now());
    if (job.manifest.spec) return stylizeJob(job);
    const resolved = await resolveJob(job.store, trigger, upload, job.deps.config);
    job.manifest = { ...job.manifest, spec: resolved.spec };
    return stylizeJob(job, resolved.fetched);
  });
}

/** Continues a job from its job.json (and checkpoint): a continuation invocation or the Batch worker. */
export async function continueJob(
  deps: PipelineDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string },
  claimant: 'continuation' | 'batch',
): Promise<JobOutcome> {
  return withLockedJob(deps, inv, target, claimant, async (job, existing) => {
    if (!existing?.spec) return job.skip(`no job.json with a spec for ${target.jobId}`);
    job.manifest = existing;
    return stylizeJob(job);
  });
}

/** Marks a job failed after its Batch job failed (Batch's job state-change event). */
export async function failBatchJob(
  deps: PipelineDeps,
  inv: Invocation,
  target: { bucket: string; jobId: string; batchJobId: string; reason: string },
): Promise<JobOutcome> {
  return withLockedJob(deps, inv, target, 'batch', async (job, existing) => {
    if (!existing) return job.skip(`no job.json for ${target.jobId}`);
    job.manifest = existing;
    throw new NstError('BATCH_JOB_FAILED', `AWS Batch job ${target.batchJobId} failed: ${target.reason}`);
  });
}
