/**
 * Job ids. S3 delivers events at least once, so the id is a function of the upload it answers: bucket,
 * key and the object's version (versionId in versioned buckets, else the ETag); every delivery of one
 * upload names the same job, and a new upload of the key (new version or content) is a new job. A drop-in
 * may instead carry an id given in advance (`nst submit`, a presigned upload) as its nst-job-id metadata,
 * which its job takes (uploadJobId). The readable prefix comes from the file name; the hash, or the random
 * digits, make it unique.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NstError } from '../../errors.js';
import { type GetOptions, type ObjectStore, sameEtag } from '../../storage/object-store.js';
import { classifyKey } from './keys.js';
import { JOB_ID_METADATA } from './metadata.js';

export interface UploadVersion {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly versionId?: string;
}

/** How to read exactly this upload: its version, else its ETag (an object replaced since is not it). */
export const readOptionsOf = (upload: Pick<UploadVersion, 'etag' | 'versionId'>): GetOptions =>
  upload.versionId ? { versionId: upload.versionId } : { ifMatch: upload.etag };

/** Job ids are safe as S3 key segments, Batch job names and SNS subjects. */
export const JOB_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,80}$/;

export function jobIdFor(upload: UploadVersion): string {
  const version = upload.versionId ?? upload.etag.replace(/"/g, '');
  const hash = createHash('sha256').update([upload.bucket, upload.key, version].join('\n')).digest('hex');
  const slug = slugOf(upload.key);
  return `${slug ? `${slug}-` : ''}${hash.slice(0, 16)}`;
}

/**
 * A job id given before the upload exists (`nst submit`, a presigned upload): the file's name and 16
 * random hex digits, as jobIdFor shapes them. The upload carries it as its nst-job-id metadata.
 */
export function assignedJobId(name: string): string {
  const slug = slugOf(name);
  return `${slug ? `${slug}-` : ''}${randomBytes(8).toString('hex')}`;
}

/** "inputs/starry/Café au lait (1).JPG" -> "cafe-au-lait-1". */
function slugOf(key: string): string {
  const file = key.slice(key.lastIndexOf('/') + 1);
  const name = file.includes('.') ? file.slice(0, file.lastIndexOf('.')) : file;
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
}

/** Checks a job id that arrives from outside (a continuation or Batch event). */
export function checkJobId(jobId: unknown): string {
  if (typeof jobId === 'string' && JOB_ID_PATTERN.test(jobId)) return jobId;
  throw new NstError('INVALID_JOB_SPEC', `${JSON.stringify(jobId)} is not a job id`);
}

/**
 * The job id of an upload as the pipeline names it: for a drop-in that was given its id in advance (a
 * presigned upload, client/presign.ts), that id, from the object's signed nst-job-id metadata; else
 * jobIdFor(upload). Only drop-ins cost the HEAD this takes. An object replaced or gone since its event
 * keeps the derived id (a replaced one has its own event; a gone one's job fails as missing).
 */
export async function uploadJobId(store: Pick<ObjectStore, 'head'>, upload: UploadVersion): Promise<string> {
  if (classifyKey(upload.key).kind !== 'drop-in') return jobIdFor(upload);
  const head = await store.head(upload.key, { versionId: upload.versionId });
  const given = head?.metadata[JOB_ID_METADATA];
  const same = head !== undefined && sameEtag(head.etag, upload.etag);
  return same && given !== undefined && JOB_ID_PATTERN.test(given) ? given : jobIdFor(upload);
}
