/**
 * `nst status` through the real CLI against a real local S3 server: a running job's block, --json as
 * stored, lookup by input key, --list newest first with its filters, unknown jobs; and `nst status` /
 * `nst submit` reaching an S3-compatible server through the SDK's endpoint variable alone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { jobIdFor } from '../../src/jobs/spec/job-id.js';
import { nst } from '../helpers/cli.js';
import { BUCKET, type S3Harness, startS3 } from '../helpers/local-s3.js';
import { jpeg, png } from './harness.js';

let h: S3Harness;
let dir: string;
let local: string[];
let inputJobId: string;

/** A job.json as the pipeline writes it, created `minute` minutes after 10:00. */
function manifest(jobId: string, status: JobManifest['status'], minute: number): JobManifest {
  const at = (m: number) => `2026-03-01T10:${String(m).padStart(2, '0')}:00.000Z`;
  const running = status !== 'queued';
  return {
    jobId,
    status,
    ...(status === 'failed'
      ? { error: { code: 'IMAGE_CORRUPT', message: 'inputs/starry/bad.jpg: truncated JPEG data' } }
      : {}),
    ...(running
      ? {
          progress: {
            scaleIndex: 1,
            scaleCount: 2,
            width: 256,
            height: 192,
            iteration: 20,
            scaleIterations: 100,
            done: status === 'running' ? 120 : 200,
            total: 200,
            percent: status === 'succeeded' ? 100 : 60,
            elapsedSeconds: 40.5,
            etaSeconds: status === 'running' ? 27 : 0,
            loss: { content: 1.5e5, style: 2.5e6, tv: 4e3, total: 2.654e6 },
            updatedAt: at(minute + 1),
          },
        }
      : {}),
    bucket: BUCKET,
    source: { key: `inputs/starry/${jobId}.jpg`, kind: 'drop-in', etag: '"e"' },
    ...(status === 'succeeded'
      ? { output: { key: `outputs/${jobId}/result.jpg`, width: 256, height: 192, bytes: 20480 } }
      : {}),
    ...(running ? { route: { worker: 'local', estimatedSeconds: 70 } } : {}),
    runs: running ? 1 : 0,
    continuations: 0,
    timings: {
      createdAt: at(minute),
      ...(running ? { startedAt: at(minute) } : {}),
      ...(status === 'succeeded' || status === 'failed' ? { finishedAt: at(minute + 2) } : {}),
      phases: { fetch: 0.2, stylize: running ? 40.5 : 0, store: 0 },
    },
    history: [{ status: 'queued', at: at(minute) }],
  };
}

const JOBS = [
  manifest('fail-1', 'failed', 0),
  manifest('done-1', 'succeeded', 1),
  manifest('queue-1', 'queued', 2),
  manifest('run-1', 'running', 3),
];

beforeAll(async () => {
  h = await startS3();
  dir = await mkdtemp(path.join(os.tmpdir(), 'nst-status-'));
  local = ['--endpoint', h.s3.endpoint, '--bucket', BUCKET];
  for (const m of JOBS) await h.store.putJson(`outputs/${m.jobId}/job.json`, m);
  // A job found by the key of its upload: the object's ETag names it.
  const key = 'inputs/starry/holiday photo.jpg';
  const etag = await h.store.put(key, await jpeg());
  inputJobId = jobIdFor({ bucket: BUCKET, key, etag });
  await h.store.putJson(`outputs/${inputJobId}/job.json`, {
    ...manifest(inputJobId, 'running', 4),
    source: { key, kind: 'drop-in', etag },
  });
});
afterAll(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

describe('nst status', () => {
  it("prints a running job's block: progress bar, scale, ETA, loss, route, timings", async () => {
    const { code, stdout, stderr } = await nst(['status', 'run-1', ...local]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    console.log(stdout);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('job run-1: running');
    expect(lines[1]).toMatch(
      /^ {2}progress {2}\[#{14}\.{10}\] 60% \(120\/200\), ETA 27 s \(updated .+ ago\)$/,
    );
    expect(stdout).toContain('scale 2/2 (256x192), iteration 20/100');
    expect(stdout).toContain('loss 2.654e+6 (content 1.500e+5, style 2.500e+6, tv 4.000e+3)');
    expect(stdout).toContain('  route     local, estimated 1 min 10 s');
    expect(stdout).toContain(`  job.json  s3://${BUCKET}/outputs/run-1/job.json`);
  });

  it('prints job.json as stored with --json', async () => {
    const { code, stdout } = await nst(['status', 'done-1', '--json', ...local]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(JOBS[1]);
  });

  it('finds a job by the key of its upload', async () => {
    const byKey = await nst(['status', 'inputs/starry/holiday photo.jpg', ...local]);
    expect(byKey.code).toBe(0);
    expect(byKey.stdout.split('\n')[0]).toBe(`job ${inputJobId}: running`);
    expect(byKey.stdout).toContain(`  source    s3://${BUCKET}/inputs/starry/holiday photo.jpg (drop-in)`);
  });

  it('lists recent jobs newest first, filtered by status and limited', async () => {
    const [all, running] = await Promise.all([
      nst(['status', '--list', ...local]),
      nst(['status', '--list', '--status', 'running', '--limit', '1', ...local]),
    ]);
    expect(all.code).toBe(0);
    console.log(all.stdout);
    const ids = (out: string) =>
      out
        .trimEnd()
        .split('\n')
        .map((line) => line.split(/\s+/)[0]);
    expect(ids(all.stdout)).toEqual([inputJobId, 'run-1', 'queue-1', 'done-1', 'fail-1']);
    expect(all.stdout).toMatch(/run-1 +running +60% +inputs\/starry\/run-1\.jpg +2026-03-01T10:03:00\.000Z/);
    expect(all.stdout).toMatch(/done-1 +succeeded +result\.jpg /);
    expect(all.stdout).toMatch(/fail-1 +failed +IMAGE_CORRUPT /);
    expect(ids(running.stdout)).toEqual([inputJobId]);
  });

  it('says clearly that a job does not exist (exit code 2)', async () => {
    const unknown = await nst(['status', 'nope-0123456789abcdef', ...local]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      `nst: error JOB_NOT_FOUND: no job nope-0123456789abcdef: there is no s3://${BUCKET}/outputs/nope-0123456789abcdef/job.json\n`,
    );
    expect(unknown.stdout).toBe('');
  });

  it('says an upload whose job has not started yet is pending (exit code 1: try again)', async () => {
    const key = 'inputs/starry/just-uploaded.jpg';
    const etag = await h.store.put(key, await jpeg());
    const pending = await nst(['status', key, ...local]);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toBe(
      `nst: error JOB_PENDING: s3://${BUCKET}/${key} (job ${jobIdFor({ bucket: BUCKET, key, etag })}): no job.json yet: the job has not started; try again shortly\n`,
    );
  });
});

describe('the SDK endpoint variable alone (no --endpoint)', () => {
  const sdkEnv = () => ({
    AWS_ENDPOINT_URL_S3: h.s3.endpoint,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
  });

  it('nst status and nst submit reach the server it names', async () => {
    const photo = path.join(dir, 'beach.jpg');
    const painting = path.join(dir, 'waves.png');
    await writeFile(photo, await jpeg(40, 32, 3));
    await writeFile(painting, await png(48, 48, 4));
    const [status, submitted] = await Promise.all([
      nst(['status', 'run-1', '--bucket', BUCKET], sdkEnv()),
      nst(['submit', photo, '--style', painting, '--bucket', BUCKET, '--size', '32'], sdkEnv()),
    ]);
    expect(status.stderr).toBe('');
    expect(status.stdout.split('\n')[0]).toBe('job run-1: running');
    expect(submitted.code).toBe(0);
    // The job id submit printed, given in advance as metadata: the pipeline takes it whatever the
    // versioning; the photo's key is named by it, so another beach.jpg cannot replace it.
    const jobId = /nst: job (\S+): status/.exec(submitted.stderr)?.[1];
    expect(jobId).toMatch(/^beach-[0-9a-f]{16}$/);
    expect(submitted.stderr).toContain(`nst: uploaded s3://${BUCKET}/inputs/waves/${jobId}.jpg`);
    // Stored byte for byte (no checksum framing in the body) with its options as metadata.
    const stored = await h.store.get(`inputs/waves/${jobId}.jpg`);
    expect(stored!.body.equals(await jpeg(40, 32, 3))).toBe(true);
    expect(stored!.metadata).toEqual({ 'nst-size': '32', 'nst-job-id': jobId });
    expect((await h.store.get('styles/waves.png'))!.body.equals(await png(48, 48, 4))).toBe(true);
  });

  it('names the endpoint and its variable when nothing answers there', async () => {
    const { code, stderr } = await nst(['status', 'run-1'], {
      ...sdkEnv(),
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /nst: error STORAGE_UNAVAILABLE: .*\(is the S3 server at http:\/\/127\.0\.0\.1:9 \(from \$AWS_ENDPOINT_URL_S3\) running\?\)\n$/,
    );
  });
});
