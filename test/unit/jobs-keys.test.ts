/** S3 key conventions, event key encoding, job ids, routing and configuration. */
import { describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../src/jobs/config.js';
import { checkJobId, JOB_ID_PATTERN, jobIdFor } from '../../src/jobs/job-id.js';
import { classifyKey, outputKeys, styleKeysFor } from '../../src/jobs/keys.js';
import { chooseRoute, ESTIMATE_SAFETY_FACTOR, remainingSeconds } from '../../src/jobs/routing.js';
import { decodeEventKey, encodeEventKey } from '../../src/storage/event-keys.js';

describe('key conventions', () => {
  it('classifies uploads', () => {
    expect(classifyKey('inputs/starry/photo.jpg')).toEqual({
      kind: 'drop-in',
      key: 'inputs/starry/photo.jpg',
      style: 'starry',
      name: 'photo',
    });
    expect(classifyKey('inputs/starry/2024/trip/a.b.png')).toMatchObject({
      kind: 'drop-in',
      style: 'starry',
      name: 'a.b',
    });
    expect(classifyKey('jobs/night.json')).toEqual({ kind: 'spec', key: 'jobs/night.json', name: 'night' });
    expect(classifyKey('inputs/photo.jpg')).toMatchObject({ kind: 'misplaced' });
    expect(classifyKey('inputs//photo.jpg')).toMatchObject({ kind: 'misplaced' });
    for (const key of [
      'inputs/starry/',
      'jobs/',
      'jobs/readme.txt',
      'outputs/x/result.jpg',
      'styles/starry.jpg',
    ]) {
      expect(classifyKey(key).kind).toBe('ignored');
    }
  });

  it('finds a style by name with any image extension, in a fixed order', () => {
    const keys = [
      'styles/starry.PNG',
      'styles/starry.jpg',
      'styles/starry.txt',
      'styles/starry-night.jpg',
      'styles/starry.x.jpg',
    ];
    expect(styleKeysFor('starry', keys)).toEqual(['styles/starry.jpg', 'styles/starry.PNG']);
    expect(styleKeysFor('monet', keys)).toEqual([]);
  });

  it('puts everything a job writes under outputs/<jobId>/', () => {
    const keys = outputKeys('job-1');
    expect([
      keys.lock,
      keys.manifest,
      keys.result('jpeg'),
      keys.result('tiff'),
      keys.frame(50, 'webp'),
      keys.checkpoint,
      keys.checkpointImage,
    ]).toEqual([
      'outputs/job-1/lock.json',
      'outputs/job-1/job.json',
      'outputs/job-1/result.jpg',
      'outputs/job-1/result.tif',
      'outputs/job-1/frames/00050.webp',
      'outputs/job-1/checkpoint.json',
      'outputs/job-1/checkpoint.png',
    ]);
  });
});

describe('S3 event keys', () => {
  it('encodes keys as S3 does in event records: form encoding, "/" kept', () => {
    expect(encodeEventKey('inputs/starry/red flower.jpg')).toBe('inputs/starry/red+flower.jpg');
    expect(encodeEventKey('inputs/a/b+c %d.jpg')).toBe('inputs/a/b%2Bc+%25d.jpg');
    expect(encodeEventKey("inputs/a/it's (1)!~*.jpg")).toBe('inputs/a/it%27s+%281%29%21%7E*.jpg');
    expect(encodeEventKey('inputs/a/dt=2024-01-01:x,y.jpg')).toBe('inputs/a/dt%3D2024-01-01%3Ax%2Cy.jpg');
    expect(encodeEventKey('inputs/ü/東京.jpg')).toBe('inputs/%C3%BC/%E6%9D%B1%E4%BA%AC.jpg');
  });

  it('decodes every key back exactly', () => {
    const keys = ['a b', 'a+b', 'a%b', 'a%2Bb', '100% + 1 = (ü)', 'x/y z/+/%20', "it's~!*", '😀 emoji'];
    for (const key of keys) expect(decodeEventKey(encodeEventKey(key))).toBe(key);
    // The documented example.
    expect(decodeEventKey('red+flower.jpg')).toBe('red flower.jpg');
  });
});

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

describe('routing', () => {
  const estimate = {
    scales: [
      { width: 32, height: 32, iterations: 10, seconds: 10 },
      { width: 64, height: 64, iterations: 10, seconds: 30 },
    ],
  };

  it('counts only the work after a checkpoint', () => {
    expect(remainingSeconds(estimate)).toBe(40);
    expect(remainingSeconds(estimate, { scaleIndex: 0, iteration: 5 })).toBe(35);
    expect(remainingSeconds(estimate, { scaleIndex: 1, iteration: 5 })).toBe(15);
  });

  it('runs here when it fits with the safety factor, else Batch, else refuses a new job', () => {
    const fits = 40 * ESTIMATE_SAFETY_FACTOR;
    expect(chooseRoute({ estimate, availableSeconds: fits, batchConfigured: false })).toEqual({
      target: 'here',
      seconds: 40,
    });
    expect(chooseRoute({ estimate, batchConfigured: false })).toEqual({ target: 'here', seconds: 40 });
    expect(chooseRoute({ estimate, availableSeconds: fits - 1, batchConfigured: true })).toEqual({
      target: 'batch',
      seconds: 40,
    });
    expect(chooseRoute({ estimate, availableSeconds: 10, batchConfigured: false })).toEqual({
      target: 'too-large',
      seconds: 40,
      availableSeconds: 10,
    });
    // A continuation keeps going (and checkpoints again) rather than being refused half done.
    expect(
      chooseRoute({
        estimate,
        availableSeconds: 10,
        batchConfigured: false,
        resume: { scaleIndex: 1, iteration: 0 },
      }),
    ).toEqual({
      target: 'here',
      seconds: 30,
    });
  });
});

describe('configuration', () => {
  it('has defaults for everything', () => {
    expect(readPipelineConfig({})).toEqual({
      weightsDir: undefined,
      topicArn: undefined,
      batch: undefined,
      engine: 'auto',
      threads: undefined,
      marginSeconds: 60,
      maxPixels: undefined,
      leaseSeconds: 45,
      maxContinuations: 4,
      webhookUrl: undefined,
    });
  });

  it('reads the environment of the contract', () => {
    const config = readPipelineConfig({
      NST_WEIGHTS_DIR: '/opt/vgg19',
      NST_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t',
      NST_BATCH_JOB_QUEUE: 'q',
      NST_BATCH_JOB_DEFINITION: 'd',
      NST_ENGINE: 'onnx',
      NST_THREADS: '6',
      NST_DEADLINE_MARGIN_SECONDS: '90',
      NST_MAX_PIXELS: '1000000',
      NST_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
    });
    expect(config).toMatchObject({
      weightsDir: '/opt/vgg19',
      topicArn: 'arn:aws:sns:eu-west-1:1:t',
      batch: { jobQueue: 'q', jobDefinition: 'd' },
      engine: 'onnx',
      threads: 6,
      marginSeconds: 90,
      maxPixels: 1_000_000,
      webhookUrl: 'http://127.0.0.1:9/hook',
    });
    // Batch needs both the queue and the definition.
    expect(readPipelineConfig({ NST_BATCH_JOB_QUEUE: 'q' }).batch).toBeUndefined();
  });

  it('names every bad variable', () => {
    expect(() => readPipelineConfig({ NST_ENGINE: 'gpu', NST_THREADS: 'many' })).toThrow(
      /NST_ENGINE[\s\S]*NST_THREADS/,
    );
  });
});
