/**
 * Deadline checkpoints in S3: where a stopped run was (scale, iteration) and its current image, so another
 * invocation or a Batch worker continues it. Temporary objects: tagged for the lifecycle rule.
 *
 * The image is written first, under a key of its own for that scale and iteration
 * (outputs/<jobId>/checkpoints/<scale>-<iteration>.png), then the record (checkpoint.json) naming it. A
 * failed second write leaves the previous record pointing at the previous, untouched image, never at
 * another scale's. Loading checks the record against the image and the job's scale plan; a checkpoint that
 * does not match (or whose image is gone: the lifecycle rule expired it while a Batch job waited) is not
 * used, and the job starts over from its first scale rather than resume from a wrong image.
 *
 * The image is stored as an 8-bit PNG (viewable, small). Rounding moves pixels by at most half a level,
 * which the continuing optimiser absorbs: it restarts its L-BFGS history on resume anyway.
 */
import type { Scale } from '../../engine/schedule.js';
import type { Checkpoint } from '../../engine/stylize.js';
import { isNstError } from '../../errors.js';
import { decodeImage } from '../../image/decode.js';
import { encodeImage } from '../../image/encode.js';
import { contentTypeFor } from '../../image/formats.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { outputKeys } from '../spec/keys.js';

interface CheckpointRecord {
  readonly jobId: string;
  readonly scaleIndex: number;
  readonly iteration: number;
  readonly width: number;
  readonly height: number;
  readonly image: string;
  readonly savedAt: string;
}

/** Writes the image first and the record last: a record always points to a complete image of its scale. */
export async function saveCheckpoint(
  store: ObjectStore,
  jobId: string,
  checkpoint: Checkpoint,
  now: Date,
): Promise<void> {
  const keys = outputKeys(jobId);
  const image = keys.checkpointImage(checkpoint.scaleIndex, checkpoint.iteration);
  const png = await encodeImage(checkpoint.image, { format: 'png' });
  await store.put(image, png, { contentType: contentTypeFor('png'), temporary: true });
  const record: CheckpointRecord = {
    jobId,
    scaleIndex: checkpoint.scaleIndex,
    iteration: checkpoint.iteration,
    width: checkpoint.image.width,
    height: checkpoint.image.height,
    image,
    savedAt: now.toISOString(),
  };
  await store.putJson(keys.checkpoint, record, { temporary: true });
}

export type LoadedCheckpoint =
  | { readonly checkpoint: Checkpoint; readonly problem?: undefined }
  | { readonly checkpoint?: undefined; readonly problem?: string };

/**
 * The job's checkpoint, checked against `plan` (the job's scales): `{ checkpoint }` when it is usable,
 * `{ problem }` saying why not when there is one that does not match, `{}` when there is none.
 */
export async function loadCheckpoint(
  store: ObjectStore,
  jobId: string,
  plan: readonly Scale[],
): Promise<LoadedCheckpoint> {
  const keys = outputKeys(jobId);
  const found = await store.getJson<CheckpointRecord>(keys.checkpoint).catch((e: unknown) => {
    if (isNstError(e) && e.code === 'INTERNAL') return { value: undefined };
    throw e;
  });
  if (!found) return {};
  const record = found.value;
  const where = store.uri(keys.checkpoint);
  if (!record || typeof record !== 'object') return { problem: `${where} is not a checkpoint record` };
  const { scaleIndex, iteration, width, height, image } = record;
  const scale = Number.isInteger(scaleIndex) ? plan[scaleIndex] : undefined;
  if (!scale) return { problem: `${where} names scale ${scaleIndex}, which the job's plan does not have` };
  if (width !== scale.width || height !== scale.height)
    return {
      problem: `${where} is ${width}x${height}, but scale ${scaleIndex + 1} is ${scale.width}x${scale.height}`,
    };
  if (!Number.isInteger(iteration) || iteration < 0 || iteration > scale.iterations)
    return { problem: `${where} names iteration ${iteration} of a ${scale.iterations}-iteration scale` };
  if (image !== keys.checkpointImage(scaleIndex, iteration))
    return { problem: `${where} points at ${image}, not at its scale's image` };
  const png = await store.get(image);
  if (!png) return { problem: `${store.uri(image)}, named by ${where}, does not exist` };
  let decoded: Checkpoint['image'];
  try {
    decoded = (await decodeImage(png.body, { name: store.uri(image) })).image;
  } catch (e) {
    return { problem: `${store.uri(image)} is not a readable image: ${(e as Error).message}` };
  }
  if (decoded.width !== width || decoded.height !== height)
    return {
      problem: `${store.uri(image)} is ${decoded.width}x${decoded.height}, but its record says ${width}x${height}`,
    };
  return { checkpoint: { scaleIndex, iteration, image: decoded } };
}
