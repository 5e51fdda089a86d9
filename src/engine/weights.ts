/**
 * VGG-19 weights on disk (DESIGN.md "Weights"): a directory with `weights.json`, a tfjs weights manifest
 * tagged `format: "vgg19-conv"`, and its `.bin` shards. Loading validates everything an engine relies
 * on (every tensor of expectedWeightShapes() with its exact shape, complete shards, finite values), so
 * a bad directory fails here with a message that says how to fix it, not later inside an engine.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { NstError } from '../errors.js';
import type { Tensor32, VggWeights } from './types.js';
import { biasName, expectedWeightShapes, kernelName, VGG19_LAYERS } from './vgg.js';

export const MANIFEST_FILE = 'weights.json';
export const WEIGHTS_FORMAT = 'vgg19-conv';
export const WEIGHTS_PREPROCESSING = 'caffe-bgr';
/** Where the Lambda weights layer mounts. */
export const LAMBDA_WEIGHTS_DIR = '/opt/vgg19';
/** The project-local default, relative to the working directory. */
export const DEFAULT_WEIGHTS_DIR = path.join('models', 'vgg19');
/** Shard size tfjs uses. */
const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

const HOW_TO_GET =
  'Get the weights with `npx nst weights fetch`, or convert a local Keras file with ' +
  '`npx nst weights convert <file.h5> --out DIR`, then pass `--weights DIR` or set NST_WEIGHTS_DIR.';

const invalid = (message: string) => new NstError('WEIGHTS_INVALID', `${message} ${HOW_TO_GET}`);

// ---------------------------------------------------------------------------------------------------
// The manifest

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
type WeightEntry = z.infer<typeof entrySchema>;
type WeightGroup = z.infer<typeof groupSchema>;

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function bytesPerValue(entry: WeightEntry): number {
  if (entry.quantization?.dtype === 'float16') return 2;
  if (entry.quantization?.dtype === 'uint8') return 1;
  return 4;
}

const entryBytes = (entry: WeightEntry) => count(entry.shape) * bytesPerValue(entry);

// ---------------------------------------------------------------------------------------------------
// float16. Node 20 has neither Float16Array nor Math.f16round, and tfjs-core keeps its decoder internal,
// so the IEEE 754 binary16 conversion is written here.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds half-to-even, as hardware and numpy do; overflow goes to Infinity, NaN stays NaN. */
function toHalfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp32 = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exp32 === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const exp = exp32 - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  let shift = 13;
  let half: number;
  if (exp <= 0) {
    // Subnormal half: shift the full 24-bit significand down to units of 2^-24.
    if (exp < -10) return sign;
    mantissa |= 0x800000;
    shift = 14 - exp;
    half = mantissa >>> shift;
  } else {
    half = (exp << 10) | (mantissa >>> 13);
  }
  const rest = mantissa & ((1 << shift) - 1);
  const midpoint = 1 << (shift - 1);
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity).
  if (rest > midpoint || (rest === midpoint && half & 1)) half += 1;
  return sign | half;
}

let halfTable: Float32Array | undefined;

function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >>> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      if (exp === 0) halfTable[h] = sign * mantissa * 2 ** -24;
      else if (exp === 0x1f) halfTable[h] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
      else halfTable[h] = sign * (1 + mantissa / 1024) * 2 ** (exp - 15);
    }
  }
  return halfTable;
}

export function float32ToFloat16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = toHalfBits(data[i]);
  return out;
}

export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Loading

/** Copies `bytes` into a fresh, aligned buffer and reads it as `entry` says. Little-endian, as tfjs writes. */
function decode(entry: WeightEntry, bytes: Uint8Array): Float32Array {
  const aligned = new Uint8Array(bytes);
  const q = entry.quantization;
  if (q?.dtype === 'float16') return float16ToFloat32(new Uint16Array(aligned.buffer));
  if (q?.dtype === 'uint8') return Float32Array.from(aligned, (v) => v * q.scale + q.min);
  return new Float32Array(aligned.buffer);
}

const isNotFound = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

async function readManifest(dir: string): Promise<WeightsManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (!isNotFound(e)) throw invalid(`Cannot read ${file}: ${(e as Error).message}.`);
    const where = existsSync(dir)
      ? `${dir} has no ${MANIFEST_FILE}`
      : `there is no weights directory at ${dir}`;
    throw new NstError('WEIGHTS_NOT_FOUND', `VGG-19 weights not found: ${where}. ${HOW_TO_GET}`, {
      cause: e,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(`${file} is not valid JSON (${(e as Error).message}).`);
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== WEIGHTS_FORMAT) {
    throw invalid(
      `${file} is not a VGG-19 weights manifest: format is ${JSON.stringify(format)}, expected "${WEIGHTS_FORMAT}".`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw invalid(`${file} is malformed:\n${z.prettifyError(parsed.error)}\n`);
  return parsed.data;
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
      if (isNotFound(e)) throw invalid(`Weights shard ${file} is missing.`);
      throw e;
    }
  }
  const expected = group.weights.reduce((sum, entry) => sum + entryBytes(entry), 0);
  const actual = sizes.reduce((a, b) => a + b, 0);
  if (actual < expected) {
    const full = Math.max(...sizes);
    const short = sizes.findIndex((size, i) => size < full && i < sizes.length - 1);
    const file = files[short === -1 ? files.length - 1 : short];
    throw invalid(
      `Weights shard ${file} is truncated: the shards hold ${actual} bytes, the manifest needs ${expected}.`,
    );
  }
  if (actual > expected) {
    throw invalid(
      `Weights shards ${files.join(', ')} hold ${actual} bytes, but the manifest describes ${expected}.`,
    );
  }
  return Buffer.concat(await Promise.all(files.map((file) => readFile(file))));
}

/** Every expected tensor present, with its exact shape and finite values. Extra tensors are allowed. */
function checkWeights(weights: VggWeights, source: string): void {
  for (const [name, shape] of expectedWeightShapes()) {
    const tensor = weights.get(name);
    if (!tensor) throw invalid(`${source} has no tensor "${name}".`);
    const same = tensor.shape.length === shape.length && shape.every((d, i) => tensor.shape[i] === d);
    if (!same || tensor.data.length !== count(shape)) {
      throw invalid(`${source}: tensor "${name}" has shape [${tensor.shape}], expected [${shape}].`);
    }
    const bad = tensor.data.findIndex((v) => !Number.isFinite(v));
    if (bad !== -1) throw invalid(`${source}: tensor "${name}" holds ${tensor.data[bad]} at index ${bad}.`);
  }
}

/** Reads and validates a weights directory. Tensors the engines do not use (e.g. block5_conv2) are dropped. */
export async function loadWeights(dir: string): Promise<VggWeights> {
  const manifest = await readManifest(dir);
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
          data: decode(entry, buffer.subarray(offset, offset + length)),
        });
      }
      offset += length;
    }
  }
  checkWeights(weights, path.join(dir, MANIFEST_FILE));
  return weights;
}

// ---------------------------------------------------------------------------------------------------
// Writing

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

// ---------------------------------------------------------------------------------------------------
// Lookup

export interface ResolveWeightsOptions {
  /** `--weights DIR`: used as given, even if missing, so the load error names it. */
  readonly flag?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The Lambda layer's mount point (injectable for tests). */
  readonly lambdaDir?: string;
}

const hasManifest = (dir: string) => existsSync(path.join(dir, MANIFEST_FILE));

/**
 * The weights directory: `--weights` or NST_WEIGHTS_DIR when given (as given, so a typo is an error that
 * names it rather than a silent fallback), else the first of /opt/vgg19 and ./models/vgg19 with a weights.json.
 */
export function resolveWeightsDir(opts: ResolveWeightsOptions = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.flag ?? ((opts.env ?? process.env).NST_WEIGHTS_DIR || undefined);
  if (explicit !== undefined) return path.resolve(cwd, explicit);
  const candidates = [opts.lambdaDir ?? LAMBDA_WEIGHTS_DIR, path.resolve(cwd, DEFAULT_WEIGHTS_DIR)];
  const found = candidates.find(hasManifest);
  if (found) return found;
  const looked = ['--weights (not given)', 'NST_WEIGHTS_DIR (not set)', ...candidates].join(', ');
  throw new NstError('WEIGHTS_NOT_FOUND', `VGG-19 weights not found. Looked in: ${looked}. ${HOW_TO_GET}`);
}

/** Whether resolveWeightsDir would find a directory with a weights.json (without reading it). */
export function weightsAvailable(opts: ResolveWeightsOptions = {}): boolean {
  try {
    return hasManifest(resolveWeightsDir(opts));
  } catch {
    return false;
  }
}
