import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateVggWeights } from '../../../src/engine/vgg.js';
import { fetchWeights, KERAS_VGG19_NOTOP_MD5 } from '../../../src/weights/fetch.js';
import { loadWeights } from '../../../src/weights/store.js';
import { writeKerasH5 } from '../../helpers/weights-keras-h5.js';

const weights = generateVggWeights(5);
let tmp: string;
let h5: Buffer;
let server: Server;
let base: string;

const digest = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-fetch-test-'));
  const file = path.join(tmp, 'source.h5');
  await writeKerasH5(file, weights, { naming: 'keras1', extraLayers: true });
  h5 = await readFile(file);
  server = createServer((req, res) => {
    if (req.url === '/vgg19.h5') {
      res.writeHead(200, { 'content-length': h5.length, 'content-type': 'application/octet-stream' });
      res.end(h5);
    } else if (req.url === '/dropped.h5') {
      // Promise the whole file, send a megabyte, hang up.
      res.writeHead(200, { 'content-length': h5.length });
      res.write(h5.subarray(0, 1 << 20), () => res.destroy());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(tmp, { recursive: true, force: true });
});

async function fetchError(outDir: string, opts: Parameters<typeof fetchWeights>[1]) {
  const error = await fetchWeights(outDir, opts).then(
    () => undefined,
    (e: Error & { code?: string; kind?: string }) => e,
  );
  expect(error, 'fetch should fail').toBeDefined();
  expect(existsSync(outDir)).toBe(false);
  return error!;
}

/** fetchWeights' own temporary folders (mkdtemp adds six characters). */
const downloadTemps = async () =>
  (await readdir(os.tmpdir())).filter((f) => /^nst-weights-[A-Za-z0-9]{6}$/.test(f));

describe('fetchWeights', () => {
  it('downloads, verifies the SHA-256, converts, reports progress and cleans up', async () => {
    const before = await downloadTemps();
    const out = path.join(tmp, 'fetched');
    const progress: [number, number | undefined][] = [];
    const urls: string[] = [];
    const summary = await fetchWeights(out, {
      url: `${base}/vgg19.h5`,
      sha256: digest('sha256', h5).toUpperCase(),
      fetch: (input, init) => {
        urls.push(String(input));
        return fetch(input, init);
      },
      onProgress: (received, total) => progress.push([received, total]),
    });
    expect(summary.tensors).toBe(26);
    expect(urls).toEqual([`${base}/vgg19.h5`]);
    expect(progress.at(-1)).toEqual([h5.length, h5.length]);
    expect(progress.every(([r], i) => i === 0 || r > progress[i - 1][0])).toBe(true);
    const loaded = await loadWeights(out);
    for (const [name, tensor] of weights) {
      // Byte comparison: toEqual walks millions of elements far too slowly.
      expect(Buffer.from(loaded.get(name)!.data.buffer).equals(Buffer.from(tensor.data.buffer)), name).toBe(
        true,
      );
    }
    expect(await downloadTemps()).toEqual(before);
  });

  it('verifies an explicit MD5 and writes float16 when asked', async () => {
    const out = path.join(tmp, 'fetched-f16');
    const summary = await fetchWeights(out, {
      url: `${base}/vgg19.h5`,
      md5: digest('md5', h5),
      float16: true,
    });
    expect(summary.bytes).toBe(12_944_960 * 2);
    const bias = (await loadWeights(out)).get('block5_conv1/bias')!.data;
    expect(bias[3]).toBeCloseTo(weights.get('block5_conv1/bias')!.data[3], 3);
  });

  it("checks Keras' pinned MD5 by default and writes nothing on a mismatch", async () => {
    const error = await fetchError(path.join(tmp, 'default-hash'), { url: `${base}/vgg19.h5` });
    expect(error.code).toBe('WEIGHTS_CHECKSUM_MISMATCH');
    expect(error.message).toContain(`md5 ${digest('md5', h5)}, expected ${KERAS_VGG19_NOTOP_MD5}`);
  });

  it('rejects a wrong SHA-256 without creating the output directory', async () => {
    const out = path.join(tmp, 'mismatch');
    const error = await fetchError(out, { url: `${base}/vgg19.h5`, sha256: '0'.repeat(64) });
    expect(error.code).toBe('WEIGHTS_CHECKSUM_MISMATCH');
    expect(error.message).toContain(`sha256 ${digest('sha256', h5)}`);
    expect(error.message).toContain(`Nothing was written to ${out}`);
  });

  it('fails fast with WEIGHTS_DOWNLOAD_FAILED when the host is unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const started = performance.now();
    const error = await fetchError(path.join(tmp, 'unreachable'), {
      url: `http://127.0.0.1:${port}/vgg19.h5`,
    });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ code: 'WEIGHTS_DOWNLOAD_FAILED', kind: 'transient' });
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('the network may be unavailable');
    expect(error.message).toContain('npx nst weights convert <file.h5> --out DIR');
    expect(error.message).toContain('NST_WEIGHTS_DIR');
  });

  it('reports an HTTP error status', async () => {
    const error = await fetchError(path.join(tmp, 'http-404'), { url: `${base}/missing.h5` });
    expect(error).toMatchObject({ code: 'WEIGHTS_DOWNLOAD_FAILED', kind: 'transient' });
    expect(error.message).toContain('HTTP 404 Not Found');
  });

  it('reports a transfer cut short', async () => {
    const error = await fetchError(path.join(tmp, 'dropped'), {
      url: `${base}/dropped.h5`,
      md5: digest('md5', h5),
    });
    expect(error).toMatchObject({
      code: 'WEIGHTS_DOWNLOAD_FAILED',
      kind: 'transient',
      message: /transfer interrupted/,
    });
  });

  it('rejects a malformed checksum before downloading', async () => {
    const error = await fetchError(path.join(tmp, 'bad-option'), { url: `${base}/vgg19.h5`, sha256: 'abc' });
    expect(error).toMatchObject({ code: 'INVALID_OPTION', message: /--sha256 must be 64 hex digits/ });
  });
});
