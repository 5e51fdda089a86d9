/**
 * What a tiled scale's steps pass each other through S3, under outputs/<jobId>/tiles/s<scale>/ (temporary,
 * tagged for the lifecycle rule). Each key is a pure function of the scale, round and tile, so a retried
 * step overwrites its own objects:
 * - targets.f32: the paintings' Gram targets A at the scale (prepare);
 * - r<round>/residual.f32: A - G_all at the round's start (prepare, then each reduce);
 * - r<round>/in-<t>.f32: tile t's start, its crop of the round's image, then its optimiser's scale from
 *   the round before (none or one float), then its contributions G_t;
 * - r<round>/out-<t>.f32: tile t's pixels after the round, its content, style, TV and total terms, its
 *   optimiser's scale, then its contributions at those pixels;
 * - terms.json: the whole image's loss terms at the scale's start and after its latest round.
 */
import { endianness } from 'node:os';
import type { TileRoundInput, TileRoundOutput } from '../../engine/tiled-scale.js';
import type { LossTerms } from '../../engine/types.js';
import { NstError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { outputKeys } from '../spec/keys.js';

export function tileObjectKeys(jobId: string, scale: number) {
  const dir = `${outputKeys(jobId).tiles}s${scale}/`;
  return {
    targets: `${dir}targets.f32`,
    terms: `${dir}terms.json`,
    residual: (round: number) => `${dir}r${round}/residual.f32`,
    input: (round: number, tile: number) => `${dir}r${round}/in-${tile}.f32`,
    output: (round: number, tile: number) => `${dir}r${round}/out-${tile}.f32`,
  };
}

/**
 * Float32 arrays in one object: their count, each one's length (uint32), then their floats, in the
 * machine's byte order, which is little-endian on every platform Lambda and Node run on (checked). Written
 * by hand: a few lines, where a serialisation library would add a dependency for one flat layout.
 */
export function encodeArrays(arrays: readonly Float32Array[]): Buffer {
  const header = Uint32Array.from([arrays.length, ...arrays.map((a) => a.length)]);
  return Buffer.concat([header, ...arrays].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

export function decodeArrays(bytes: Buffer, name: string): Float32Array[] {
  const bad = () => new NstError('INTERNAL', `${name} is not a tiles object`);
  const uint32 = (offset: number) => bytes.readUInt32LE(offset);
  if (bytes.length < 4) throw bad();
  const count = uint32(0);
  const headerBytes = 4 * (1 + count);
  if (bytes.length < headerBytes) throw bad();
  const lengths = Array.from({ length: count }, (_, i) => uint32(4 * (1 + i)));
  if (headerBytes + 4 * lengths.reduce((sum, n) => sum + n, 0) !== bytes.length) throw bad();
  let offset = headerBytes;
  return lengths.map((length) => {
    // A copy: the body's bytes need not be 4-byte aligned.
    const a = new Float32Array(length);
    new Uint8Array(a.buffer).set(bytes.subarray(offset, offset + length * 4));
    offset += length * 4;
    return a;
  });
}

if (endianness() !== 'LE') throw new NstError('INTERNAL', 'tiles objects need a little-endian machine');

export async function putArrays(
  store: ObjectStore,
  key: string,
  arrays: readonly Float32Array[],
): Promise<void> {
  await store.put(key, encodeArrays(arrays), { contentType: 'application/octet-stream', temporary: true });
}

/** The arrays at `key`; a missing object is INTERNAL (the step before should have written it). */
export async function getArrays(store: ObjectStore, key: string): Promise<Float32Array[]> {
  const found = await store.get(key);
  if (!found) throw new NstError('INTERNAL', `${store.uri(key)} is missing: its step has not run`);
  return decodeArrays(found.body, store.uri(key));
}

/** Tile t's input of a round (in-<t>): its start, its optimiser's scale from the round before, its G_t. */
export type TileInput = Pick<TileRoundInput, 'start' | 'gamma' | 'grams'>;

export function putTileInput(store: ObjectStore, key: string, input: TileInput): Promise<void> {
  return putArrays(store, key, [input.start, gammaArray(input.gamma), ...input.grams]);
}

/** Tile t's input at `key`, holding `grams` contributions (one per style region and layer). */
export async function getTileInput(store: ObjectStore, key: string, grams: number): Promise<TileInput> {
  const [start, gamma, ...contributions] = await getLaid(store, key, 2 + grams);
  return { start, gamma: gammaOf(gamma, store.uri(key)), grams: contributions };
}

export function putTileOutput(store: ObjectStore, key: string, output: TileRoundOutput): Promise<void> {
  const { pixels, state, gamma } = output;
  return putArrays(store, key, [pixels, termsArray(state.terms), gammaArray(gamma), ...state.grams]);
}

/** Tile t's output at `key` (out-<t>), holding `grams` contributions. */
export async function getTileOutput(
  store: ObjectStore,
  key: string,
  grams: number,
): Promise<TileRoundOutput> {
  const [pixels, terms, gamma, ...contributions] = await getLaid(store, key, 3 + grams);
  const state = { grams: contributions, terms: termsOf(terms) };
  return { pixels, state, gamma: gammaOf(gamma, store.uri(key)) };
}

/** The arrays at `key`, which must number `count` (an object of another layout is INTERNAL). */
async function getLaid(store: ObjectStore, key: string, count: number): Promise<Float32Array[]> {
  const arrays = await getArrays(store, key);
  if (arrays.length !== count)
    throw new NstError(
      'INTERNAL',
      `${store.uri(key)} holds ${arrays.length} arrays, not the ${count} expected`,
    );
  return arrays;
}

/** A tile's terms as four floats and back. */
const termsArray = (t: LossTerms): Float32Array => Float32Array.of(t.content, t.style, t.tv, t.total);
const termsOf = (a: Float32Array): LossTerms => ({ content: a[0], style: a[1], tv: a[2], total: a[3] });

/** L-BFGS's scale gamma as none or one float, and back. */
const gammaArray = (gamma: number | undefined): Float32Array =>
  gamma === undefined ? new Float32Array(0) : Float32Array.of(gamma);
function gammaOf(a: Float32Array, name: string): number | undefined {
  if (a.length > 1) throw new NstError('INTERNAL', `${name}: a tile's gamma is one float, not ${a.length}`);
  return a.length === 0 ? undefined : a[0];
}

/** The whole image's terms at a tiled scale's start and after its latest round. */
export interface ScaleTerms {
  readonly initial: LossTerms;
  readonly latest: LossTerms;
}
