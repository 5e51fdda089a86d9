/**
 * Finding jobs in a bucket (`nst status`): by job id, by the key whose upload started the job (its ETag or
 * version names the job, job-id.ts), and the recent jobs, newest first. Plain S3 reads, so it works against
 * the local server and a real bucket alike.
 */
import { NstError } from '../errors.js';
import type { JobManifest, JobStatus } from '../jobs/lifecycle/manifest.js';
import { JOB_ID_PATTERN, uploadJobId } from '../jobs/spec/job-id.js';
import { classifyKey, KEY_PREFIXES, outputKeys } from '../jobs/spec/keys.js';
import { pipelineKeyOf } from '../storage/key-prefix.js';
import type { ObjectStore } from '../storage/object-store.js';

/**
 * The job a job id or an upload's key (inputs/..., jobs/...) names. JOB_NOT_FOUND for an unknown job id or
 * a key with no object; JOB_PENDING for an upload whose job has not written its job.json yet.
 */
export async function findJob(store: ObjectStore, ref: string): Promise<JobManifest> {
  if (ref.startsWith('s3://')) return findJobByKey(store, keyInBucket(store, ref));
  if (ref.includes('/')) return findJobByKey(store, ref);
  if (!JOB_ID_PATTERN.test(ref)) {
    throw new NstError(
      'INVALID_OPTION',
      `${JSON.stringify(ref)} is neither a job id (as \`nst submit\` prints it) nor an input key (inputs/<style>/<photo>, jobs/<name>.json)`,
    );
  }
  const manifest = await readJobManifest(store, ref);
  if (!manifest)
    throw new NstError('JOB_NOT_FOUND', `no job ${ref}: there is no ${store.uri(outputKeys(ref).manifest)}`);
  return manifest;
}

/** The pipeline's key of an s3://bucket/key URI, which must name this bucket, under the pipeline's prefix. */
function keyInBucket(store: ObjectStore, uri: string): string {
  const [bucket, ...key] = uri.slice('s3://'.length).split('/');
  if (bucket !== store.bucket) {
    throw new NstError(
      'INVALID_OPTION',
      `${uri} is in bucket "${bucket}", not "${store.bucket}": add --bucket ${bucket}`,
    );
  }
  const pipelineKey = pipelineKeyOf(store.keyPrefix, key.join('/'));
  if (pipelineKey === undefined) {
    throw new NstError(
      'INVALID_OPTION',
      `${uri} is not under the pipeline's prefix "${store.keyPrefix}": give --prefix to name where it is`,
    );
  }
  return pipelineKey;
}

/** The job of the object now at `key` (the latest upload of it). */
async function findJobByKey(store: ObjectStore, key: string): Promise<JobManifest> {
  if (classifyKey(key).kind === 'ignored') {
    throw new NstError(
      'INVALID_OPTION',
      `${key} is not a key that starts a job: ${KEY_PREFIXES.inputs}<style>/<photo> or ${KEY_PREFIXES.jobs}<name>.json ` +
        `(uploads to ${KEY_PREFIXES.assets} and ${KEY_PREFIXES.styles} start nothing: give the spec's key)`,
    );
  }
  const head = await store.head(key);
  if (!head) throw new NstError('JOB_NOT_FOUND', `no object ${store.uri(key)}, so no job for it`);
  const jobId = await uploadJobId(store, { bucket: store.bucket, key, ...head });
  const manifest = await readJobManifest(store, jobId);
  if (!manifest) {
    // The normal case right after an upload (its event has not run yet): worth asking again, not fatal.
    throw new NstError(
      'JOB_PENDING',
      `${store.uri(key)} (job ${jobId}): no job.json yet: the job has not started; try again shortly`,
    );
  }
  return manifest;
}

const readJobManifest = async (store: ObjectStore, jobId: string) =>
  (await store.getJson<JobManifest>(outputKeys(jobId).manifest))?.value;

/** Whether a listed key is a job's job.json (outputs/<jobId>/job.json, as outputKeys names it). */
const isManifestKey = (key: string) => {
  const jobId = key.slice(KEY_PREFIXES.outputs.length).split('/')[0];
  return key.startsWith(KEY_PREFIXES.outputs) && jobId !== '' && key === outputKeys(jobId).manifest;
};
/** job.json files read at once while listing. */
const READ_BATCH = 8;
/** S3 lists LastModified to the second: a job.json may have been written up to this much after it says. */
const LAST_MODIFIED_PRECISION_MS = 1000;

/**
 * The `limit` most recently created jobs (in `status`, when given), newest first. Every job.json is listed,
 * but only the recent ones are read: a job's job.json was last written after it was created, so once the
 * files left (newest write first) were all written before the limit-th creation time found so far, none of
 * them can be newer. The listing itself is the cost that grows: it pages through every object under
 * outputs/ (frames and checkpoints included, 1000 keys a request), since S3 cannot list only job.json files.
 */
export async function listJobs(
  store: ObjectStore,
  opts: { readonly status?: JobStatus; readonly limit: number },
): Promise<JobManifest[]> {
  const candidates = (await store.listObjects(KEY_PREFIXES.outputs))
    .filter((o) => isManifestKey(o.key))
    .sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime());
  const found: JobManifest[] = [];
  const created = (m: JobManifest) => Date.parse(m.timings.createdAt);
  for (let i = 0; i < candidates.length; i += READ_BATCH) {
    if (found.length >= opts.limit) {
      const oldestKept = created(found[opts.limit - 1]);
      if (candidates[i].lastModified.getTime() + LAST_MODIFIED_PRECISION_MS <= oldestKept) break;
    }
    const batch = candidates.slice(i, i + READ_BATCH);
    const manifests = await Promise.all(
      batch.map(async (o) => (await store.getJson<JobManifest>(o.key))?.value),
    );
    for (const m of manifests) if (m && (!opts.status || m.status === opts.status)) found.push(m);
    found.sort((a, b) => created(b) - created(a));
  }
  return found.slice(0, opts.limit);
}
