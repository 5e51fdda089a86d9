/** Job ids: one per upload version, safe as keys and Batch job names. */
import { describe, expect, it } from 'vitest';
import { checkJobId, JOB_ID_PATTERN, jobIdFor } from '../../../../src/jobs/spec/job-id.js';

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
