/** The one document: made from job.json at each status, and always what the published schema says. */
import { describe, expect, it } from 'vitest';
import { newManifest, transition } from '../../../../src/jobs/lifecycle/manifest.js';
import { jobNotificationSchema, notificationFor } from '../../../../src/jobs/notify/job-notification.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const T1 = new Date('2026-01-01T00:02:00.000Z');
const ROUTE = { worker: 'lambda', engine: 'onnx', estimatedSeconds: 110 } as const;
const spec = {
  content: 'inputs/starry/photo.jpg',
  styles: [{ key: 'styles/starry.png', weight: 1 }],
  options: {},
  output: {},
};

const queued = newManifest(
  'photo-0123',
  'pics',
  { key: 'inputs/starry/photo.jpg', kind: 'drop-in', etag: '"e"' },
  T0,
);
const running = transition({ ...queued, spec } as typeof queued, 'running', T0, 'run 1', {
  runs: 1,
  route: ROUTE,
});

describe('a job notification', () => {
  it("says a running job's keys, route and start", () => {
    const n = notificationFor(running);
    expect(n).toEqual({
      jobId: 'photo-0123',
      status: 'running',
      bucket: 'pics',
      input: {
        source: 'inputs/starry/photo.jpg',
        content: 'inputs/starry/photo.jpg',
        styles: ['styles/starry.png'],
      },
      manifest: 's3://pics/outputs/photo-0123/job.json',
      timings: {
        createdAt: T0.toISOString(),
        startedAt: T0.toISOString(),
        phases: { fetch: 0, stylize: 0, store: 0 },
      },
      route: ROUTE,
    });
    expect(jobNotificationSchema.parse(n)).toEqual(n);
  });

  it("names the bucket's own keys under a pipeline's key prefix; job.json keeps the pipeline's", () => {
    const succeeded = transition(running, 'succeeded', T1, 'done', {
      output: { key: 'outputs/photo-0123/result.jpg', width: 512, height: 384, bytes: 81234 },
    });
    const n = notificationFor(succeeded, 'art/');
    expect(n.input).toEqual({
      source: 'art/inputs/starry/photo.jpg',
      content: 'art/inputs/starry/photo.jpg',
      styles: ['art/styles/starry.png'],
    });
    expect(n.output).toMatchObject({
      uri: 's3://pics/art/outputs/photo-0123/result.jpg',
      key: 'art/outputs/photo-0123/result.jpg',
    });
    expect(n.manifest).toBe('s3://pics/art/outputs/photo-0123/job.json');
    expect(succeeded.output?.key).toBe('outputs/photo-0123/result.jpg');
  });

  it("says a succeeded job's result with its URI, size and bytes, and its engine", () => {
    const succeeded = transition(running, 'succeeded', T1, 'done', {
      output: { key: 'outputs/photo-0123/result.jpg', width: 512, height: 384, bytes: 81234 },
      engine: { kind: 'onnx', backend: 'onnx-cpu' },
    });
    const n = notificationFor(succeeded);
    expect(n).toMatchObject({
      status: 'succeeded',
      output: {
        uri: 's3://pics/outputs/photo-0123/result.jpg',
        key: 'outputs/photo-0123/result.jpg',
        width: 512,
        height: 384,
        bytes: 81234,
      },
      engine: { kind: 'onnx', backend: 'onnx-cpu' },
      timings: { finishedAt: T1.toISOString() },
    });
    expect(jobNotificationSchema.parse(n)).toEqual(n);
  });

  it("says a failed job's error code and message, even when its spec was never read", () => {
    const failed = transition(queued, 'failed', T1, 'STYLE_NOT_FOUND', {
      error: { code: 'STYLE_NOT_FOUND', message: 'no style painting s3://pics/styles/starry.*' },
    });
    const n = notificationFor(failed);
    expect(n).toMatchObject({
      status: 'failed',
      input: { source: 'inputs/starry/photo.jpg', styles: [] },
      error: { code: 'STYLE_NOT_FOUND', message: 'no style painting s3://pics/styles/starry.*' },
    });
    expect(n).not.toHaveProperty('route');
    expect(jobNotificationSchema.parse(n)).toEqual(n);
  });

  it('is not made for a queued job: it has nothing to say', () => {
    expect(() => notificationFor(queued)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });
});
