/** The bucket's key conventions: what an upload means, where a style is found, where a job writes. */
import { describe, expect, it } from 'vitest';
import {
  classifyKey,
  KEY_PREFIXES,
  MASK_PREFIXES,
  outputKeys,
  prefixList,
  READ_PREFIXES,
  SPEC_IMAGE_PREFIXES,
  styleKeysFor,
  TRIGGER_PREFIXES,
} from '../../../../src/jobs/spec/keys.js';

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
      'assets/harbour.jpg', // a spec's photo: it starts nothing
    ]) {
      expect(classifyKey(key).kind).toBe('ignored');
    }
  });

  it('reads every prefix a spec may name, and no upload to assets/ or styles/ starts a job', () => {
    for (const prefix of [...SPEC_IMAGE_PREFIXES, ...MASK_PREFIXES, KEY_PREFIXES.jobs])
      expect(READ_PREFIXES).toContain(prefix);
    expect(READ_PREFIXES).not.toContain(KEY_PREFIXES.outputs);
    expect(TRIGGER_PREFIXES).toEqual(['inputs/', 'jobs/']);
    expect(classifyKey('assetsx/a.jpg').kind).toBe('ignored');
    expect(prefixList(['a/', 'b/', 'c/'])).toBe('a/, b/ or c/');
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
      keys.checkpointImage(2, 40),
    ]).toEqual([
      'outputs/job-1/lock.json',
      'outputs/job-1/job.json',
      'outputs/job-1/result.jpg',
      'outputs/job-1/result.tif',
      'outputs/job-1/frames/00050.webp',
      'outputs/job-1/checkpoint.json',
      'outputs/job-1/checkpoints/2-40.png',
    ]);
  });
});
