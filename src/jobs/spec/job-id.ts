/**
 * Job ids. S3 delivers events at least once, so the id is a pure function of the upload it answers:
 * bucket, key and the object's version (versionId in versioned buckets, else the ETag). Every delivery of
 * one upload names the same job; a new upload of the key (new version or content) is a new job. The
 * readable prefix comes from the file name; the hash makes it unique.
 */
import { createHash } from 'node:crypto';
import { NstError } from '../../errors.js';

export interface UploadVersion {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly versionId?: string;
}

/** Job ids are safe as S3 key segments, Batch job names and SNS subjects. */
export const JOB_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,80}$/;

export function jobIdFor(upload: UploadVersion): string {
  const version = upload.versionId ?? upload.etag.replace(/"/g, '');
  const hash = createHash('sha256').update([upload.bucket, upload.key, version].join('\n')).digest('hex');
  const slug = slugOf(upload.key);
  return `${slug ? `${slug}-` : ''}${hash.slice(0, 16)}`;
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
