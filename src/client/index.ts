/**
 * The pipeline's user side (`import { presignDropIn } from 'serverless-style-transfer/client'`): submit a
 * drop-in with credentials, or presign one for a client without them, and find or wait for a job. It
 * speaks plain S3 (the AWS SDK's S3 client), so it works against a deployed bucket and `nst serve` alike.
 */

export { ObjectStore } from '../storage/object-store.js';
export { DEFAULT_PRESIGN_SECONDS, MAX_PRESIGN_SECONDS } from '../storage/presign-limits.js';
export { createSdkS3Client, PRESIGNING_SETTINGS } from '../storage/s3-client.js';
export { findJob, listJobs } from './job-status.js';
export { type PresignedUpload, type PresignRequest, presignDropIn } from './presign.js';
export { type SubmitRequest, type Submitted, submitDropIn, waitForJob } from './submit.js';
