/**
 * `nst status`'s presentation: the block of a running, a failed, a handed-off and a succeeded job (progress
 * worded by status); the list's lines.
 */
import { describe, expect, it } from 'vitest';
import { duration } from '../../../src/cli/progress-text.js';
import { jobLines, statusBlock } from '../../../src/cli/status.js';
import type { JobManifest, JobProgress } from '../../../src/jobs/lifecycle/manifest.js';

const progress: JobProgress = {
  scaleIndex: 1,
  scaleCount: 3,
  width: 362,
  height: 256,
  iteration: 17,
  scaleIterations: 50,
  done: 67,
  total: 150,
  percent: 44.6,
  elapsedSeconds: 61.2,
  etaSeconds: 95,
  loss: { content: 123456, style: 2345678, tv: 3456, total: 2472590 },
  updatedAt: '2026-03-01T10:01:05.000Z',
};

const running: JobManifest = {
  jobId: 'photo-0123456789abcdef',
  status: 'running',
  progress,
  bucket: 'nst',
  source: { key: 'inputs/starry/photo.jpg', kind: 'drop-in', etag: '"e"' },
  route: { worker: 'lambda', engine: 'onnx', estimatedSeconds: 130.4, availableSeconds: 839.9 },
  runs: 1,
  continuations: 0,
  timings: {
    createdAt: '2026-03-01T10:00:00.000Z',
    startedAt: '2026-03-01T10:00:02.000Z',
    phases: { fetch: 0.42, stylize: 0, store: 0 },
  },
  history: [],
};

const now = new Date('2026-03-01T10:01:08.000Z');

describe('statusBlock', () => {
  it("shows a running job's progress as a bar, where it is, the ETA and the latest loss", () => {
    const block = statusBlock(running, now);
    expect(block.split('\n')).toEqual([
      'job photo-0123456789abcdef: running',
      '  progress  [###########.............] 44.6% (67/150), ETA 1 min 35 s (updated 3 s ago)',
      '            scale 2/3 (362x256), iteration 17/50',
      '            loss 2.473e+6 (content 1.235e+5, style 2.346e+6, tv 3.456e+3)',
      '  source    s3://nst/inputs/starry/photo.jpg (drop-in)',
      '  route     lambda, estimated 2 min 10 s of 14 min 0 s available',
      '  engine    onnx (its backend is recorded when the job succeeds)',
      '  timings   created 2026-03-01T10:00:00.000Z, started 2026-03-01T10:00:02.000Z',
      '            fetch 0.4 s',
      '  job.json  s3://nst/outputs/photo-0123456789abcdef/job.json',
    ]);
  });

  it('gives a running job no ETA before its first estimate', () => {
    const early = { ...running, progress: { ...progress, etaSeconds: undefined } };
    expect(statusBlock(early, now)).toContain('44.6% (67/150), no ETA yet (updated 3 s ago)');
  });

  it('shows where a failed job stopped (no ETA), its error code and message, and no result', () => {
    const failed: JobManifest = {
      ...running,
      status: 'failed',
      route: undefined,
      error: { code: 'IMAGE_CORRUPT', message: 'inputs/starry/photo.jpg: truncated JPEG data' },
      timings: { ...running.timings, finishedAt: '2026-03-01T10:00:03.000Z' },
    };
    const block = statusBlock(failed, now);
    expect(block).toContain('job photo-0123456789abcdef: failed');
    expect(block).toContain('  progress  [###########.............] stopped at 44.6% (67/150)\n');
    expect(block).not.toContain('ETA');
    expect(block).toContain('  error     IMAGE_CORRUPT: inputs/starry/photo.jpg: truncated JPEG data');
    expect(block).toContain('finished 2026-03-01T10:00:03.000Z');
    expect(block).not.toContain('result');
  });

  it('shows a job handed off (queued again) as waiting to continue, with no ETA', () => {
    const handedOff: JobManifest = { ...running, status: 'queued', runs: 1, continuations: 1 };
    const block = statusBlock(handedOff, now);
    expect(block).toContain('44.6% (67/150), waiting to continue (updated 3 s ago)');
    expect(block).not.toContain('ETA');
  });

  it("shows a succeeded job's result URI, engine and the phases", () => {
    const succeeded: JobManifest = {
      ...running,
      status: 'succeeded',
      progress: { ...progress, done: 150, iteration: 50, scaleIndex: 2, percent: 100, etaSeconds: 0 },
      output: { key: 'outputs/photo-0123456789abcdef/result.jpg', width: 512, height: 362, bytes: 123456 },
      engine: { kind: 'onnx', backend: 'onnxruntime-node cpu' },
      timings: {
        ...running.timings,
        finishedAt: '2026-03-01T10:02:30.000Z',
        phases: { fetch: 0.42, stylize: 143.2, store: 0.3 },
      },
    };
    const block = statusBlock(succeeded, now);
    expect(block).toContain('  progress  [########################] 100% (150/150), done\n');
    expect(block).toContain('scale 3/3 (362x256), iteration 50/50');
    expect(block).toContain('  engine    onnx (onnxruntime-node cpu)');
    expect(block).toContain('fetch 0.4 s, stylize 2 min 23 s, store 0.3 s');
    expect(block).toContain(
      '  result    s3://nst/outputs/photo-0123456789abcdef/result.jpg (512x362, 123.5 kB)',
    );
    // Under a pipeline's key prefix, the keys job.json holds are shown as the bucket's whole keys.
    const shared = statusBlock(succeeded, now, 'art/');
    expect(shared).toContain('  result    s3://nst/art/outputs/photo-0123456789abcdef/result.jpg (');
    expect(shared).toContain('  job.json  s3://nst/art/outputs/photo-0123456789abcdef/job.json');
  });

  it('says a queued job has no progress yet', () => {
    const queued: JobManifest = { ...running, status: 'queued', progress: undefined, route: undefined };
    expect(statusBlock(queued, now)).toContain('  progress  none yet');
  });
});

describe('jobLines', () => {
  it('aligns id, status, percent or result or error code, source key and created time', () => {
    const lines = jobLines([
      running,
      {
        ...running,
        jobId: 'b-1',
        status: 'succeeded',
        output: { key: 'outputs/b-1/result.png', width: 1, height: 1, bytes: 1 },
      },
      { ...running, jobId: 'c-22', status: 'failed', error: { code: 'JOB_TOO_LARGE', message: 'm' } },
    ]);
    expect(lines).toEqual([
      'photo-0123456789abcdef  running    44.6%          inputs/starry/photo.jpg  2026-03-01T10:00:00.000Z',
      'b-1                     succeeded  result.png     inputs/starry/photo.jpg  2026-03-01T10:00:00.000Z',
      'c-22                    failed     JOB_TOO_LARGE  inputs/starry/photo.jpg  2026-03-01T10:00:00.000Z',
    ]);
  });
});

describe('duration', () => {
  it('reads as seconds, minutes or hours', () => {
    expect([0.42, 9.96, 59.4, 95, 3600 + 180, 3 * 86400 + 7000].map(duration)).toEqual([
      '0.4 s',
      '10 s',
      '59 s',
      '1 min 35 s',
      '1 h 3 min',
      '3 d',
    ]);
  });
});
