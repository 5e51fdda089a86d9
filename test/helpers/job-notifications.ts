/** A job's notification at each status it is told in, for the tests of the channels. */
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';

export const running: JobNotification = {
  jobId: 'photo-0123',
  status: 'running',
  bucket: 'pics',
  input: {
    source: 'inputs/starry/photo.jpg',
    content: 'inputs/starry/photo.jpg',
    styles: ['styles/starry.png'],
  },
  manifest: 's3://pics/outputs/photo-0123/job.json',
  timings: { createdAt: '2026-01-01T00:00:00.000Z', phases: { fetch: 0.2, stylize: 0, store: 0 } },
};
export const succeeded: JobNotification = {
  ...running,
  status: 'succeeded',
  output: {
    uri: 's3://pics/outputs/photo-0123/result.jpg',
    key: 'outputs/photo-0123/result.jpg',
    width: 512,
    height: 384,
    bytes: 9000,
  },
};
export const failed: JobNotification = {
  ...running,
  status: 'failed',
  error: { code: 'IMAGE_CORRUPT', message: 'bad bytes' },
};
