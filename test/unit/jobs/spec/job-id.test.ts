/** Job ids: one per upload version, safe as keys and Batch job names. */
import { describe, expect, it } from 'vitest';
import {
  assignedJobId,
  checkJobId,
  JOB_ID_PATTERN,
  jobIdFor,
  uploadJobId,
} from '../../../../src/jobs/spec/job-id.js';
import { ObjectStore } from '../../../../src/storage/object-store.js';
import { memoryS3 } from '../../../helpers/memory-s3.js';

describe('job ids', () => {
  const upload = { bucket: 'b', key: 'inputs/starry/Café au lait (1).JPG', etag: '"abc"' };

  it('derive from bucket, key and version: every delivery of an upload names one job', () => {
    const id = jobIdFor(upload);
    expect(id).toMatch(/^cafe-au-lait-1-[0-9a-f]{16}$/);
    expect(jobIdFor({ ...upload, etag: 'abc' })).toBe(id); // quoted or not, as events and responses differ
    expect(jobIdFor({ ...upload, etag: 'abd' })).not.toBe(id);
    expect(jobIdFor({ ...upload, bucket: 'c' })).not.toBe(id);
    expect(jobIdFor({ ...upload, key: 'inputs/starry/cafe au lait 1.jpg' })).not.toBe(id);
    expect(jobIdFor({ ...upload, versionId: 'v1' })).not.toBe(jobIdFor({ ...upload, versionId: 'v2' }));
  });

  it('are safe as keys and Batch job names', () => {
    for (const key of ['東京.jpg', '....jpg', `a/b/${'x'.repeat(300)}.jpg`]) {
      expect(jobIdFor({ ...upload, key })).toMatch(JOB_ID_PATTERN);
    }
    expect(jobIdFor({ ...upload, key: 'inputs/s/東京.jpg' })).toMatch(/^[0-9a-f]{16}$/);
    expect(checkJobId('photo-0123456789abcdef')).toBe('photo-0123456789abcdef');
    expect(() => checkJobId('../x')).toThrow(/not a job id/);
    expect(() => checkJobId(42)).toThrow(/not a job id/);
  });
});

describe('job ids given in advance (nst submit, presigned uploads)', () => {
  const store = () => new ObjectStore(memoryS3().client, 'b');

  it('are the file name and 16 random hex digits, shaped as derived ones', () => {
    const [a, b] = [
      assignedJobId('inputs/starry/Café au lait (1).JPG'),
      assignedJobId('inputs/starry/x.jpg'),
    ];
    expect(a).toMatch(/^cafe-au-lait-1-[0-9a-f]{16}$/);
    expect(a).toMatch(JOB_ID_PATTERN);
    expect(assignedJobId('inputs/starry/x.jpg')).not.toBe(b);
  });

  it("name a drop-in's job from its nst-job-id metadata; a replaced object or a bad id keeps the derived id", async () => {
    const s = store();
    const etag = await s.put('inputs/starry/p.jpg', 'x', {
      metadata: { 'nst-job-id': 'p-0123456789abcdef' },
    });
    const upload = { bucket: 'b', key: 'inputs/starry/p.jpg', etag };
    expect(await uploadJobId(s, upload)).toBe('p-0123456789abcdef');
    // The event names another version than the one there now: not this upload's metadata.
    expect(await uploadJobId(s, { ...upload, etag: '"other"' })).toBe(
      jobIdFor({ ...upload, etag: '"other"' }),
    );
    const bad = await s.put('inputs/starry/q.jpg', 'y', { metadata: { 'nst-job-id': '../escape' } });
    const badUpload = { bucket: 'b', key: 'inputs/starry/q.jpg', etag: bad };
    expect(await uploadJobId(s, badUpload)).toBe(jobIdFor(badUpload));
    const gone = { bucket: 'b', key: 'inputs/starry/gone.jpg', etag: '"e"' };
    expect(await uploadJobId(s, gone)).toBe(jobIdFor(gone));
  });

  it('are not looked for beyond drop-ins: a spec keeps its derived id, without a request', async () => {
    const s3 = memoryS3();
    const s = new ObjectStore(s3.client, 'b');
    const etag = await s.put('jobs/a.json', '{}', { metadata: { 'nst-job-id': 'a-0123456789abcdef' } });
    const before = s3.calls().length;
    const spec = { bucket: 'b', key: 'jobs/a.json', etag };
    expect(await uploadJobId(s, spec)).toBe(jobIdFor(spec));
    expect(s3.calls()).toHaveLength(before);
  });
});
