/**
 * Weights directories on disk (the format is manifest.ts): loading validates everything an engine relies
 * on (every tensor of expectedWeightShapes() with its exact shape, complete shards, finite values), so a
 * bad directory fails here with a message that says how to fix it, not later inside an engine. Writing
 * replaces a directory atomically.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Tensor32, VggWeights } from '../engine/types.js';
import { biasName, expectedWeightShapes, kernelName, VGG19_LAYERS } from '../engine/vgg.js';
import { NstError } from '../errors.js';
import { float32ToFloat16 } from './float16.js';
import {
  checkWeights,
  decodeEntry,
  entryBytes,
  HOW_TO_GET_WEIGHTS,
  MANIFEST_FILE,
  parseManifest,
  WEIGHTS_FORMAT,
  WEIGHTS_PREPROCESSING,
  type WeightEntry,
  type WeightGroup,
  type WeightsManifest,
  weightsInvalid,
} from './manifest.js';

/** Shard size tfjs uses. */
const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

async function readWeightsManifest(dir: string): Promise<WeightsManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (!isNotFound(e)) throw weightsInvalid(`Cannot read ${file}: ${(e as Error).message}.`);
    const where = existsSync(dir)
      ? `${dir} has no ${MANIFEST_FILE}`
      : `there is no weights directory at ${dir}`;
    throw new NstError('WEIGHTS_NOT_FOUND', `VGG-19 weights not found: ${where}. ${HOW_TO_GET_WEIGHTS}`, {
      cause: e,
    });
  }
  return parseManifest(text, file);
}

/**
 * Reads a group's shards as one buffer. The manifest gives only the total, so a short shard is found by
 * tfjs's convention: every shard but the last has the full shard size.
 */
async function readShards(dir: string, group: WeightGroup): Promise<Buffer> {
  const files = group.paths.map((p) => path.join(dir, p));
  const sizes: number[] = [];
  for (const file of files) {
    try {
      sizes.push((await stat(file)).size);
    } catch (e) {
      if (isNotFound(e)) throw weightsInvalid(`Weights shard ${file} is missing.`);
      throw e;
    }
  }
  const expected = group.weights.reduce((sum, entry) => sum + entryBytes(entry), 0);
  const actual = sizes.reduce((a, b) => a + b, 0);
  if (actual < expected) {
    const full = Math.max(...sizes);
    const short = sizes.findIndex((size, i) => size < full && i < sizes.length - 1);
    const file = files[short === -1 ? files.length - 1 : short];
    throw weightsInvalid(
      `Weights shard ${file} is truncated: the shards hold ${actual} bytes, the manifest needs ${expected}.`,
    );
  }
  if (actual > expected) {
    throw weightsInvalid(
      `Weights shards ${files.join(', ')} hold ${actual} bytes, but the manifest describes ${expected}.`,
    );
  }
  return Buffer.concat(await Promise.all(files.map((file) => readFile(file))));
}

/** Reads and validates a weights directory. Tensors the engines do not use (e.g. block5_conv2) are dropped. */
export async function loadWeights(dir: string): Promise<VggWeights> {
  const manifest = await readWeightsManifest(dir);
  const wanted = expectedWeightShapes();
  const weights = new Map<string, Tensor32>();
  for (const group of manifest.weightsManifest) {
    const buffer = await readShards(dir, group);
    let offset = 0;
    for (const entry of group.weights) {
      const length = entryBytes(entry);
      if (wanted.has(entry.name)) {
        weights.set(entry.name, {
          shape: entry.shape,
          data: decodeEntry(entry, buffer.subarray(offset, offset + length)),
        });
      }
      offset += length;
    }
  }
  checkWeights(weights, path.join(dir, MANIFEST_FILE));
  return weights;
}

export interface WriteWeightsOptions {
  /** Store float16 (half the size; the loader widens back to float32). */
  readonly float16?: boolean;
  readonly shardBytes?: number;
}

export interface WeightsSummary {
  readonly tensors: number;
  /** Bytes of tensor data written (the shards' total). */
  readonly bytes: number;
}

/** The 26 tensors the format holds, in network order. */
const tensorNames = () => VGG19_LAYERS.flatMap((l) => [kernelName(l.name), biasName(l.name)]);

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Writes `weights` in the format above, replacing `dir` as a whole: the files go to a temporary directory
 * beside it that is renamed into place, so a failed write never leaves a half-written directory.
 */
export async function writeWeights(
  dir: string,
  weights: VggWeights,
  opts: WriteWeightsOptions = {},
): Promise<WeightsSummary> {
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes <= 0)
    throw new RangeError(`shardBytes must be a positive integer`);
  checkWeights(weights, 'the weights to write');
  const entries: WeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const name of tensorNames()) {
    const { shape, data } = weights.get(name)!;
    const quantization = opts.float16 ? { dtype: 'float16' as const } : undefined;
    entries.push({ name, shape: [...shape], dtype: 'float32', ...(quantization && { quantization }) });
    chunks.push(bytesOf(opts.float16 ? float32ToFloat16(data) : data));
  }
  const data = Buffer.concat(chunks);
  const shardCount = Math.ceil(data.length / shardBytes);
  const paths = Array.from({ length: shardCount }, (_, i) => `group1-shard${i + 1}of${shardCount}.bin`);
  const manifest: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    preprocessing: WEIGHTS_PREPROCESSING,
    weightsManifest: [{ paths, weights: entries }],
  };
  await replaceDirectory(dir, async (tmp) => {
    for (const [i, file] of paths.entries()) {
      await writeFile(path.join(tmp, file), data.subarray(i * shardBytes, (i + 1) * shardBytes));
    }
    await writeFile(path.join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  });
  return { tensors: entries.length, bytes: data.length };
}

/** Refuses to replace a directory that holds anything but weights, so `--out .` cannot wipe a project. */
async function assertReplaceable(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return;
    throw new NstError('INVALID_OPTION', `cannot write weights to ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
    throw new NstError(
      'INVALID_OPTION',
      `${dir} exists and is not a weights directory: choose a new or empty one.`,
    );
  }
}

async function replaceDirectory(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  await assertReplaceable(target);
  await mkdir(path.dirname(target), { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${suffix}`);
  const old = path.join(path.dirname(target), `.${path.basename(target)}.old-${suffix}`);
  await mkdir(tmp);
  try {
    await fill(tmp);
    const hadTarget = existsSync(target);
    if (hadTarget) await rename(target, old);
    try {
      await rename(tmp, target);
    } catch (e) {
      if (hadTarget) await rename(old, target);
      throw e;
    }
    if (hadTarget) await rm(old, { recursive: true, force: true });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
