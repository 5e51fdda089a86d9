/**
 * Deadline checkpoints in S3: where a stopped run was (scale, iteration) and its current image, so another
 * invocation or a Batch worker continues it. Temporary objects: tagged for the lifecycle rule.
 *
 * The image is stored as an 8-bit PNG (viewable, small). Rounding moves pixels by at most half a level,
 * which the continuing optimiser absorbs: it restarts its L-BFGS history on resume anyway.
 */
import type { Checkpoint } from '../engine/stylize.js';
import { decodeImage } from '../image/decode.js';
import { encodeImage } from '../image/encode.js';
import { contentTypeFor } from '../image/formats.js';
import type { ObjectStore } from '../storage/object-store.js';
import { outputKeys } from './keys.js';

interface CheckpointRecord {
  readonly jobId: string;
  readonly scaleIndex: number;
  readonly iteration: number;
  readonly width: number;
  readonly height: number;
  readonly image: string;
  readonly savedAt: string;
}

/** Writes the image first and the record last: a record always points to a complete image. */
export async function saveCheckpoint(
  store: ObjectStore,
  jobId: string,
  checkpoint: Checkpoint,
  now: Date,
): Promise<void> {
  const keys = outputKeys(jobId);
  const png = await encodeImage(checkpoint.image, { format: 'png' });
  await store.put(keys.checkpointImage, png, { contentType: contentTypeFor('png'), temporary: true });
  const record: CheckpointRecord = {
    jobId,
    scaleIndex: checkpoint.scaleIndex,
    iteration: checkpoint.iteration,
    width: checkpoint.image.width,
    height: checkpoint.image.height,
    image: keys.checkpointImage,
    savedAt: now.toISOString(),
  };
  await store.putJson(keys.checkpoint, record, { temporary: true });
}

/** The job's checkpoint, or undefined when it has none. */
export async function loadCheckpoint(store: ObjectStore, jobId: string): Promise<Checkpoint | undefined> {
  const keys = outputKeys(jobId);
  const record = await store.getJson<CheckpointRecord>(keys.checkpoint);
  if (!record) return undefined;
  const png = await store.get(record.value.image);
  if (!png) return undefined;
  const { image } = await decodeImage(png.body, { name: store.uri(record.value.image) });
  return { scaleIndex: record.value.scaleIndex, iteration: record.value.iteration, image };
}
