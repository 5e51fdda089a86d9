/**
 * Checkpoints against the real local S3 server: the image is written first under its own key for the scale
 * and iteration, then the record; a failed record write leaves the previous checkpoint whole; loading
 * checks the record against the job's scale plan and the image, and says why it will not use one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Scale } from '../../../../src/engine/schedule.js';
import type { Checkpoint } from '../../../../src/engine/stylize.js';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/jobs/run/checkpoint.js';
import { outputKeys } from '../../../../src/jobs/spec/keys.js';
import { type S3Harness, startS3 } from '../../../helpers/local-s3.js';

let h: S3Harness;
beforeEach(async () => {
  h = await startS3();
});
afterEach(async () => h.close());

const JOB = 'job-1';
const keys = outputKeys(JOB);
const PLAN: Scale[] = [
  { width: 32, height: 26, iterations: 3 },
  { width: 45, height: 36, iterations: 3 },
];
const now = new Date('2025-01-01T00:00:00Z');

function checkpoint(scaleIndex: number, iteration: number, level = 100): Checkpoint {
  const { width, height } = PLAN[scaleIndex];
  return {
    scaleIndex,
    iteration,
    image: { width, height, data: new Float32Array(width * height * 3).fill(level) },
  };
}

/** Fails every PutObject of `key` the client sends (as S3 failing the second write would). */
function failPutsOf(key: string): void {
  h.s3.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand' && (args.input as { Key: string }).Key === key)
        throw Object.assign(new Error('InternalError'), { $metadata: { httpStatusCode: 500 } });
      return next(args);
    },
    { step: 'initialize', name: `fail-${key}` },
  );
}

describe('checkpoints', () => {
  it('writes the image under a key per scale and iteration, then the record naming it', async () => {
    await saveCheckpoint(h.store, JOB, checkpoint(1, 2), now);
    expect(await h.outputs(JOB)).toEqual([keys.checkpoint, `outputs/${JOB}/checkpoints/1-2.png`]);
    const loaded = await loadCheckpoint(h.store, JOB, PLAN);
    expect(loaded.problem).toBeUndefined();
    expect(loaded.checkpoint).toMatchObject({
      scaleIndex: 1,
      iteration: 2,
      image: { width: 45, height: 36 },
    });
    expect(loaded.checkpoint!.image.data[0]).toBe(100);
  });

  it('a failed record write leaves the previous record and its own image', async () => {
    await saveCheckpoint(h.store, JOB, checkpoint(0, 1, 50), now);
    failPutsOf(keys.checkpoint);
    await expect(saveCheckpoint(h.store, JOB, checkpoint(1, 0, 200), now)).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
    });
    const loaded = await loadCheckpoint(h.store, JOB, PLAN);
    expect(loaded.checkpoint).toMatchObject({
      scaleIndex: 0,
      iteration: 1,
      image: { width: 32, height: 26 },
    });
    expect(loaded.checkpoint!.image.data[0]).toBe(50);
  });

  it('refuses, saying why, a record that does not match the plan or its image', async () => {
    expect(await loadCheckpoint(h.store, JOB, PLAN)).toEqual({});
    await saveCheckpoint(h.store, JOB, checkpoint(1, 0), now);
    // The job's plan changed (another size): the record's scale is another size.
    const other = [PLAN[0], { width: 64, height: 51, iterations: 3 }];
    expect((await loadCheckpoint(h.store, JOB, other)).problem).toMatch(/is 45x36, but scale 2 is 64x51/);
    expect((await loadCheckpoint(h.store, JOB, [PLAN[0]])).problem).toMatch(
      /names scale 1, which the job's plan/,
    );

    const record = async (changes: Record<string, unknown>) => {
      const current = JSON.parse((await h.store.get(keys.checkpoint))!.body.toString());
      await h.store.putJson(keys.checkpoint, { ...current, ...changes });
    };
    // A record pointing at another scale's image (what overwriting one image key allowed).
    await saveCheckpoint(h.store, JOB, checkpoint(0, 3), now);
    await record({ scaleIndex: 1, width: 45, height: 36, iteration: 0 });
    expect((await loadCheckpoint(h.store, JOB, PLAN)).problem).toMatch(
      /points at .*0-3\.png, not at its scale's image/,
    );
    // An image of the wrong size under the right key.
    await h.store.put(keys.checkpointImage(1, 0), (await h.store.get(keys.checkpointImage(0, 3)))!.body);
    await record({ image: keys.checkpointImage(1, 0) });
    expect((await loadCheckpoint(h.store, JOB, PLAN)).problem).toMatch(/is 32x26, but its record says 45x36/);
    // The image expired (lifecycle rule) or was never written.
    await record({ iteration: 2, image: keys.checkpointImage(1, 2) });
    expect((await loadCheckpoint(h.store, JOB, PLAN)).problem).toMatch(
      /1-2\.png, named by .* does not exist/,
    );
    await record({ iteration: 9 });
    expect((await loadCheckpoint(h.store, JOB, PLAN)).problem).toMatch(/iteration 9 of a 3-iteration scale/);
    await h.store.put(keys.checkpoint, 'not json');
    expect((await loadCheckpoint(h.store, JOB, PLAN)).problem).toMatch(/is not a checkpoint record/);
  });
});
