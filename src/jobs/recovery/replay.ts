/**
 * Uploads that never got a job: a local server killed with events still queued (or before a job wrote its
 * job.json) loses those events, and nothing else would ever run them. At start-up the local pipeline
 * replays each such upload once, as the S3 event it was; S3 itself redelivers in AWS, so only local mode
 * needs this. An upload whose job exists is never replayed (and its lock would stop a duplicate anyway).
 */
import type { S3Event } from 'aws-lambda';
import { objectCreatedRecord } from '../../storage/local-s3.js';
import type { ListedObject, ObjectStore } from '../../storage/object-store.js';
import { uploadJobId } from '../spec/job-id.js';
import { classifyKey, KEY_PREFIXES, outputObjectOf, TRIGGER_PREFIXES } from '../spec/keys.js';

/** One S3 event per upload under the trigger prefixes that has no job.json, oldest first. */
export async function unhandledUploads(store: ObjectStore): Promise<S3Event[]> {
  const jobs = new Set(
    (await store.list(KEY_PREFIXES.outputs))
      .map(outputObjectOf)
      .filter((output) => output?.object === 'manifest')
      .map((output) => output?.jobId),
  );
  const uploads = (await Promise.all(TRIGGER_PREFIXES.map((p) => store.listObjects(p)))).flat();
  const hasJob = async (o: ListedObject) =>
    jobs.has(await uploadJobId(store, { bucket: store.bucket, key: o.key, etag: o.etag }));
  const jobless = [];
  for (const o of uploads.filter((u) => classifyKey(u.key).kind !== 'ignored'))
    if (!(await hasJob(o))) jobless.push(o);
  return jobless
    .sort((a, b) => a.lastModified.getTime() - b.lastModified.getTime())
    .map((o, i) => ({
      Records: [
        objectCreatedRecord(store.bucket, {
          key: store.objectKey(o.key),
          size: o.size,
          eTag: o.etag.replace(/"/g, ''),
          sequencer: `replay-${i}`,
          eventTime: o.lastModified.toISOString(),
        }),
      ],
    }));
}
