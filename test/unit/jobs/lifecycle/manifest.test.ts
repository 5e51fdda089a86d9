import { describe, expect, it } from 'vitest';
import { forStorage, newManifest, transition } from '../../../../src/jobs/lifecycle/manifest.js';

describe('forStorage', () => {
  it('puts what happened first and keeps every field, values unchanged', () => {
    const queued = newManifest(
      'photo-1',
      'nst',
      { key: 'inputs/s/photo.jpg', kind: 'drop-in', etag: 'e' },
      new Date(0),
    );
    const failed = transition(queued, 'failed', new Date(1000), 'IMAGE_UNSUPPORTED', {
      error: { code: 'IMAGE_UNSUPPORTED', message: 'not an image' },
    });
    const stored = forStorage(failed);
    expect(stored).toEqual(failed);
    expect(Object.keys(JSON.parse(JSON.stringify(stored)))).toEqual([
      'jobId',
      'status',
      'error',
      'bucket',
      'source',
      'runs',
      'continuations',
      'timings',
      'history',
    ]);
  });
});
