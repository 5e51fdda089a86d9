/** The memory model: monotone in what it counts, and within ~10% of the measured peaks it is calibrated on. */
import { describe, expect, it } from 'vitest';
import { estimateMemory, type MemoryInput } from '../../../src/engine/memory-model.js';
import { resampledStyleSize } from '../../../src/engine/resample.js';

const STARRY_NIGHT = { width: 1024, height: 640 };
const TUBINGEN = { width: 1024, height: 768 };

const job = (width: number, height: number, extra: Partial<MemoryInput> = {}): MemoryInput => ({
  width,
  height,
  styles: [STARRY_NIGHT],
  inputPixels: TUBINGEN.width * TUBINGEN.height + STARRY_NIGHT.width * STARRY_NIGHT.height,
  options: { optimizer: 'lbfgs', lbfgsHistory: 20, styleScale: 1, iterations: 1 },
  engine: 'onnx',
  ...extra,
});
const peak = (input: MemoryInput) => estimateMemory(input).peakMb;

describe('memory model', () => {
  it.each([
    // [result size, iterations, measured peak RSS MB, source]
    [512, 341, 1, 1400, 'the issue: one L-BFGS iteration'],
    [1024, 683, 1, 2850, 'the issue: one L-BFGS iteration'],
    [512, 384, 200, 1430, 'the issue: the default 512 px job'],
    [512, 384, 1, 1404, 'nst stylize, 2 threads'],
    [256, 192, 1, 997, 'nst stylize, 2 threads'],
    [128, 96, 1, 956, 'nst stylize, 2 threads'],
  ])(
    'estimates %ix%i at %i iterations within 10%% of the measured %i MB (%s)',
    (w, h, iterations, measured) => {
      const estimate = peak(job(w, h, { options: { ...job(w, h).options, iterations } }));
      expect(Math.abs(estimate - measured) / measured).toBeLessThan(0.1);
    },
  );

  it('grows with pixels, history, styles and inputs', () => {
    const base = job(512, 384, { options: { ...job(1, 1).options, iterations: 200 } });
    const at = (over: Partial<MemoryInput>) => peak({ ...base, ...over });
    let last = 0;
    for (const side of [64, 128, 256, 512, 1024, 2048, 4096]) {
      const next = at({ width: side, height: side });
      expect(next).toBeGreaterThan(last);
      last = next;
    }
    last = 0;
    for (const lbfgsHistory of [1, 5, 20, 100]) {
      const next = at({ options: { ...base.options, lbfgsHistory } });
      expect(next).toBeGreaterThan(last);
      last = next;
    }
    // The history holds at most one pair per iteration.
    expect(at({ options: { ...base.options, iterations: 5, lbfgsHistory: 100 } })).toBe(
      at({ options: { ...base.options, iterations: 5, lbfgsHistory: 5 } }),
    );
    expect(at({ styles: [STARRY_NIGHT, STARRY_NIGHT] })).toBeGreaterThan(at({}));
    expect(at({ options: { ...base.options, styleScale: 2 } })).toBeGreaterThan(at({}));
    expect(at({ inputPixels: 40e6 })).toBeGreaterThan(at({}) + 500);
    // Adam keeps two moment vectors, L-BFGS with 20 pairs forty.
    expect(at({ options: { ...base.options, optimizer: 'adam' } })).toBeLessThan(at({}));
  });

  it('counts a style at its resampled size: a 20000x2 style of a 64 px job is 160000x16 (the style bomb)', () => {
    expect(resampledStyleSize({ width: 20000, height: 2 }, 64, 1)).toEqual({ width: 160000, height: 16 });
    expect(resampledStyleSize(STARRY_NIGHT, 512, 1)).toEqual({ width: 512, height: 320 });
    const bomb = peak(job(64, 48, { styles: [{ width: 20000, height: 2 }], inputPixels: 0 }));
    const plain = peak(job(64, 48, { styles: [{ width: 64, height: 64 }], inputPixels: 0 }));
    // Measured: +2.1 GB (1.3 GB -> 3.4 GB).
    expect(bomb - plain).toBeGreaterThan(1800);
    expect(bomb - plain).toBeLessThan(2400);
  });

  it('has a device-memory estimate for onnx-cuda only, that fits 2048 px but not 4096 px in a 24 GB GPU', () => {
    expect(estimateMemory(job(2048, 2048)).gpuMb).toBeUndefined();
    const gpu = (side: number) => estimateMemory(job(side, side, { gpu: true })).gpuMb!;
    expect(gpu(2048)).toBeLessThan(0.8 * 23028);
    expect(gpu(4096)).toBeGreaterThan(23028);
    expect(estimateMemory(job(2048, 2048, { gpu: true })).backend).toBe('onnx-cuda');
    expect(estimateMemory(job(256, 256, { engine: 'tfjs' })).backend).toBe('tfjs-wasm');
  });
});

describe('memory model with tiles', () => {
  const tiled = (width: number, height: number, tileSize: number) =>
    job(width, height, { options: { ...job(0, 0).options, tileSize } });

  it('counts the network and the optimiser at a tile, and the whole scale as pixels only', () => {
    const at4096 = estimateMemory(tiled(4096, 3072, 1024));
    const untiled1024 = estimateMemory(job(1024, 1024));
    expect(at4096.parts.network).toBe(untiled1024.parts.network);
    expect(at4096.parts.optimiser).toBe(untiled1024.parts.optimiser);
    // x, the next blend, the content and the previous result: 4 float32 RGB images of 4096x3072; and the
    // painting at the scale's style size, twice.
    const painting = resampledStyleSize(STARRY_NIGHT, 4096, 1);
    const paintingPixels = painting.width * painting.height;
    expect(at4096.parts.whole).toBe(Math.round(((4096 * 3072 * 4 + paintingPixels * 2) * 12) / 2 ** 20));
    // The 4096 px job in bounded memory: under 4 GB, where untiled it needs tens of GB.
    expect(at4096.peakMb).toBeLessThan(4096);
    expect(peak(job(4096, 3072))).toBeGreaterThan(30_000);
  });

  it('changes nothing for a result that fits one tile', () => {
    expect(estimateMemory(tiled(512, 384, 1024))).toEqual(estimateMemory(job(512, 384)));
  });
});
