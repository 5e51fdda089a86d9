/**
 * `nst weights fetch`: downloads Keras' VGG-19 notop .h5 from the location keras.applications uses,
 * verifies its checksum, and converts it into a weights directory (keras-h5.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { NstError } from '../errors.js';
import { convertKerasH5, KERAS_VGG19_NOTOP_FILE } from './keras-h5.js';
import type { WeightsSummary } from './store.js';

const KERAS_VGG19_NOTOP_URL = `https://storage.googleapis.com/tensorflow/keras-applications/vgg19/${KERAS_VGG19_NOTOP_FILE}`;

/**
 * Keras publishes only an MD5 for this file: keras/src/applications/vgg19.py pins
 * `file_hash="253f8cb515780f3b799900260a226db6"`, and get_file treats a 32-digit hash as MD5. So MD5 is
 * what we verify by default; callers who have a SHA-256 they trust pass `sha256` instead.
 */
export const KERAS_VGG19_NOTOP_MD5 = '253f8cb515780f3b799900260a226db6';

export interface FetchWeightsOptions {
  readonly url?: string;
  /** Expected SHA-256 (hex). When given (or `md5` is), it replaces the default Keras MD5. */
  readonly sha256?: string;
  /** Expected MD5 (hex). Default: Keras' pinned hash. */
  readonly md5?: string;
  readonly float16?: boolean;
  readonly fetch?: typeof fetch;
  readonly onProgress?: (received: number, total?: number) => void;
}

type Algorithm = 'sha256' | 'md5';
const HEX_LENGTH: Record<Algorithm, number> = { sha256: 64, md5: 32 };

function expectedChecksums(opts: FetchWeightsOptions): [Algorithm, string][] {
  const checks: [Algorithm, string][] = [];
  if (opts.sha256 !== undefined) checks.push(['sha256', opts.sha256]);
  if (opts.md5 !== undefined) checks.push(['md5', opts.md5]);
  if (checks.length === 0) checks.push(['md5', KERAS_VGG19_NOTOP_MD5]);
  for (const [algorithm, hex] of checks) {
    if (!new RegExp(`^[0-9a-fA-F]{${HEX_LENGTH[algorithm]}}$`).test(hex)) {
      throw new NstError(
        'INVALID_OPTION',
        `--${algorithm} must be ${HEX_LENGTH[algorithm]} hex digits, got "${hex}"`,
      );
    }
  }
  return checks.map(([a, h]) => [a, h.toLowerCase()]);
}

const downloadFailed = (url: string, reason: string, cause?: unknown) =>
  new NstError(
    'WEIGHTS_DOWNLOAD_FAILED',
    `Could not download the VGG-19 weights from ${url} (${reason}); the network may be unavailable. ` +
      `If you have ${KERAS_VGG19_NOTOP_FILE}, convert it with \`npx nst weights convert <file.h5> --out DIR\`, ` +
      'or point at an existing weights directory with `--weights DIR` or NST_WEIGHTS_DIR.',
    { cause },
  );

/** The most telling part of a fetch failure: undici hides the socket error (ECONNREFUSED, ENOTFOUND) in `cause`. */
function reasonOf(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

/** Streams `url` into `file`, hashing as it goes. */
async function download(
  url: string,
  file: string,
  opts: FetchWeightsOptions,
): Promise<Record<Algorithm, Hash>> {
  const hashes: Record<Algorithm, Hash> = { sha256: createHash('sha256'), md5: createHash('md5') };
  let response: Response;
  try {
    response = await (opts.fetch ?? fetch)(url);
  } catch (e) {
    throw downloadFailed(url, reasonOf(e), e);
  }
  if (!response.ok || !response.body) {
    throw downloadFailed(url, `HTTP ${response.status} ${response.statusText}`.trim());
  }
  const length = Number(response.headers.get('content-length'));
  const total = length > 0 ? length : undefined;
  let received = 0;
  try {
    await pipeline(
      Readable.fromWeb(response.body as ReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          received += chunk.length;
          hashes.sha256.update(chunk);
          hashes.md5.update(chunk);
          opts.onProgress?.(received, total);
          yield chunk;
        }
      },
      createWriteStream(file),
    );
  } catch (e) {
    throw downloadFailed(url, `transfer interrupted after ${received} bytes: ${reasonOf(e)}`, e);
  }
  return hashes;
}

/** Downloads, verifies and converts the weights into `outDir`. Nothing is written there unless all succeed. */
export async function fetchWeights(outDir: string, opts: FetchWeightsOptions = {}): Promise<WeightsSummary> {
  const url = opts.url ?? KERAS_VGG19_NOTOP_URL;
  const checks = expectedChecksums(opts);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-weights-'));
  try {
    const file = path.join(tmp, KERAS_VGG19_NOTOP_FILE);
    const hashes = await download(url, file, opts);
    for (const [algorithm, expected] of checks) {
      const actual = hashes[algorithm].digest('hex');
      if (actual !== expected) {
        throw new NstError(
          'WEIGHTS_CHECKSUM_MISMATCH',
          `The file downloaded from ${url} has ${algorithm} ${actual}, expected ${expected}: it is corrupt or not ` +
            `the file Keras publishes. Nothing was written to ${outDir}. Retry, or pass --${algorithm} if you trust this file.`,
        );
      }
    }
    return await convertKerasH5(file, outDir, { float16: opts.float16 });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
