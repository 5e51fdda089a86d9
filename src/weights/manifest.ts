/**
 * The weights format (docs/ARCHITECTURE.md, "Weights"): a directory with `weights.json`, a tfjs weights
 * manifest tagged `format: "vgg19-conv"`, and its `.bin` shards. This module is the format without the
 * file system: the manifest's schema, how an entry's bytes decode, and what a complete set of weights is.
 */
import path from 'node:path';
import { z } from 'zod';
import type { VggWeights } from '../engine/types.js';
import { expectedWeightShapes } from '../engine/vgg.js';
import { NstError } from '../errors.js';
import { float16ToFloat32 } from './float16.js';

export const MANIFEST_FILE = 'weights.json';
export const WEIGHTS_FORMAT = 'vgg19-conv';
export const WEIGHTS_PREPROCESSING = 'caffe-bgr';

/** Appended to every "weights not found / not valid" message: how to get a good directory. */
export const HOW_TO_GET_WEIGHTS =
  'Get the weights with `npx nst weights fetch`, or convert a local Keras file with ' +
  '`npx nst weights convert <file.h5> --out DIR`, then pass `--weights DIR` or set NST_WEIGHTS_DIR.';

export const weightsInvalid = (message: string) =>
  new NstError('WEIGHTS_INVALID', `${message} ${HOW_TO_GET_WEIGHTS}`);

const quantizationSchema = z.discriminatedUnion('dtype', [
  z.object({ dtype: z.literal('float16') }),
  z.object({ dtype: z.literal('uint8'), scale: z.number(), min: z.number() }),
]);

const entrySchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.literal('float32'),
  quantization: quantizationSchema.optional(),
});

/** Shards must live inside the weights directory. */
const shardPathSchema = z
  .string()
  .min(1)
  .refine(
    (p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'),
    'must be a file inside the directory',
  );

const groupSchema = z.object({ paths: z.array(shardPathSchema).min(1), weights: z.array(entrySchema) });

const manifestSchema = z.object({
  format: z.literal(WEIGHTS_FORMAT),
  preprocessing: z.literal(WEIGHTS_PREPROCESSING),
  weightsManifest: z.array(groupSchema).min(1),
});

export type WeightsManifest = z.infer<typeof manifestSchema>;
export type WeightEntry = z.infer<typeof entrySchema>;
export type WeightGroup = z.infer<typeof groupSchema>;

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function bytesPerValue(entry: WeightEntry): number {
  if (entry.quantization?.dtype === 'float16') return 2;
  if (entry.quantization?.dtype === 'uint8') return 1;
  return 4;
}

export const entryBytes = (entry: WeightEntry) => count(entry.shape) * bytesPerValue(entry);

/** Parses the text of `file` (named in errors) as a weights manifest. */
export function parseManifest(text: string, file: string): WeightsManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw weightsInvalid(`${file} is not valid JSON (${(e as Error).message}).`);
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== WEIGHTS_FORMAT) {
    throw weightsInvalid(
      `${file} is not a VGG-19 weights manifest: format is ${JSON.stringify(format)}, expected "${WEIGHTS_FORMAT}".`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw weightsInvalid(`${file} is malformed:\n${z.prettifyError(parsed.error)}\n`);
  return parsed.data;
}

/** Copies `bytes` into a fresh, aligned buffer and reads it as `entry` says. Little-endian, as tfjs writes. */
export function decodeEntry(entry: WeightEntry, bytes: Uint8Array): Float32Array {
  const aligned = new Uint8Array(bytes);
  const q = entry.quantization;
  if (q?.dtype === 'float16') return float16ToFloat32(new Uint16Array(aligned.buffer));
  if (q?.dtype === 'uint8') return Float32Array.from(aligned, (v) => v * q.scale + q.min);
  return new Float32Array(aligned.buffer);
}

/** Every expected tensor present, with its exact shape and finite values. Extra tensors are allowed. */
export function checkWeights(weights: VggWeights, source: string): void {
  for (const [name, shape] of expectedWeightShapes()) {
    const tensor = weights.get(name);
    if (!tensor) throw weightsInvalid(`${source} has no tensor "${name}".`);
    const same = tensor.shape.length === shape.length && shape.every((d, i) => tensor.shape[i] === d);
    if (!same || tensor.data.length !== count(shape)) {
      throw weightsInvalid(`${source}: tensor "${name}" has shape [${tensor.shape}], expected [${shape}].`);
    }
    const bad = tensor.data.findIndex((v) => !Number.isFinite(v));
    if (bad !== -1)
      throw weightsInvalid(`${source}: tensor "${name}" holds ${tensor.data[bad]} at index ${bad}.`);
  }
}
