/**
 * stylizeDecodedImage end to end on a tiny run (one 32 px scale) with a tiny engine that pulls the image
 * towards its style's mean colour: what the engine is given, the colours of what comes out, and a run on
 * the caller's scale plan.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../../src/engine/options.js';
import type { Scale } from '../../src/engine/schedule.js';
import type { EngineSpec, RgbImage, StyleEngine } from '../../src/engine/types.js';
import { generateVggWeights, toNetworkInput } from '../../src/engine/vgg.js';
import { type DecodedInputs, stylizeDecodedImage } from '../../src/stylize-image.js';
import { photoLike } from '../helpers/images.js';

const weights = generateVggWeights(5);
const options = (overrides: Partial<StylizeOptions>): StylizeOptions => ({
  ...DEFAULT_STYLIZE_OPTIONS,
  size: 32,
  minSize: 32,
  iterations: 5,
  ...overrides,
});

/** Loss 0.5 |x - t|^2, t the style's mean colour everywhere (in network space): a style loss in miniature. */
function meanColourEngine(spec: EngineSpec): StyleEngine {
  const { image } = spec.styles[0];
  const mean = [0, 1, 2].map((k) => meanAndVariance(image, k).mean);
  const data = Float32Array.from({ length: spec.width * spec.height * 3 }, (_, i) => mean[i % 3]);
  const target = toNetworkInput({ width: spec.width, height: spec.height, data });
  return {
    kind: 'onnx',
    backend: 'test',
    width: spec.width,
    height: spec.height,
    async lossAndGradient(x) {
      const grad = x.map((v, i) => v - target[i]);
      const loss = 0.5 * grad.reduce((a, g) => a + g * g, 0);
      return { loss, grad, terms: { content: 0, style: loss, tv: 0, total: loss } };
    },
    dispose() {},
  };
}

/** photoLike's colours squeezed towards mid-grey, so neither the match nor the transfer clamps. */
function photo(width: number, height: number): RgbImage {
  const { data } = photoLike(width, height, 1);
  return { width, height, data: data.map((v) => 0.5 * v + 64) };
}

/** A warm, contrasty painting: colours unlike the photo's. */
function painting(width: number, height: number): RgbImage {
  const { data } = photoLike(width, height, 7);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i += 3) {
    out[i] = 0.2 * data[i] + 190;
    out[i + 1] = 0.9 * data[i + 1];
    out[i + 2] = 0.3 * data[i + 2];
  }
  return { width, height, data: out };
}

const meanAndVariance = (image: RgbImage, channel: number) => {
  const values = image.data.filter((_, i) => i % 3 === channel);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, variance: values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length };
};

/** Full-range BT.601 chroma, the convention of src/image/colour.ts. */
const chroma = (d: Float32Array, i: number) => [
  -0.168736 * d[i] - 0.331264 * d[i + 1] + 0.5 * d[i + 2],
  0.5 * d[i] - 0.418688 * d[i + 1] - 0.081312 * d[i + 2],
];

async function run(overrides: Partial<StylizeOptions>) {
  const style = painting(40, 40);
  const decoded: DecodedInputs = {
    content: { width: 32, height: 32, format: 'png', image: photo(32, 32) },
    styles: [{ image: style, weight: 1 }],
  };
  const specs: EngineSpec[] = [];
  const recording = async (_: unknown, spec: EngineSpec): Promise<StyleEngine> => {
    specs.push(spec);
    return meanColourEngine(spec);
  };
  const before = Float32Array.from(style.data);
  const out = await stylizeDecodedImage(
    decoded,
    options(overrides),
    { format: 'png' },
    {
      weights,
      createEngine: recording,
    },
  );
  expect(style.data).toEqual(before);
  return { out, seen: specs[0].styles[0].image, style, content: decoded.content.image };
}

describe('stylizeDecodedImage colours', () => {
  it('gives the engine the styles as decoded, without colorMatch', async () => {
    const { seen, style } = await run({});
    for (let k = 0; k < 3; k++)
      expect(meanAndVariance(seen, k).mean).toBeCloseTo(meanAndVariance(style, k).mean, 0);
  });

  it("with colorMatch, gives the engine styles in the content's colours (the decoded ones untouched)", async () => {
    const { seen, content } = await run({ colorMatch: true });
    for (let k = 0; k < 3; k++) {
      const got = meanAndVariance(seen, k);
      const want = meanAndVariance(content, k);
      // The engine's copy is resampled to the scale, which blurs a little: close, not exact.
      expect(Math.abs(got.mean - want.mean)).toBeLessThan(2);
      expect(got.variance / want.variance).toBeGreaterThan(0.8);
      expect(got.variance / want.variance).toBeLessThan(1.2);
    }
  });

  it("with colorMatch and originalColors, matches the styles, then keeps the content's chrominance", async () => {
    const { out, seen, content } = await run({ colorMatch: true, originalColors: true });
    expect(Math.abs(meanAndVariance(seen, 0).mean - meanAndVariance(content, 0).mean)).toBeLessThan(2);
    const result = out.result.image;
    let chromaError = 0;
    let lumaChange = 0;
    for (let i = 0; i < result.data.length; i += 3) {
      const [cb, cr] = chroma(result.data, i);
      const [cbc, crc] = chroma(content.data, i);
      chromaError = Math.max(chromaError, Math.abs(cb - cbc), Math.abs(cr - crc));
      lumaChange += Math.abs(result.data[i + 1] - content.data[i + 1]);
    }
    expect(chromaError).toBeLessThan(1e-3);
    // ...and the result did move: the luminance is the stylised one, not the content's.
    expect(lumaChange / (result.data.length / 3)).toBeGreaterThan(0.1);
  });

  it("keeps the photo's brightness only when the styles are matched too", async () => {
    const meanLuma = (image: RgbImage) => {
      let sum = 0;
      for (let i = 0; i < image.data.length; i += 3)
        sum += 0.299 * image.data[i] + 0.587 * image.data[i + 1] + 0.114 * image.data[i + 2];
      return sum / (image.data.length / 3);
    };
    const alone = await run({ originalColors: true });
    const both = await run({ colorMatch: true, originalColors: true });
    const photoLuma = meanLuma(both.content);
    // The tiny engine pulls towards the painting's mean colour: a luminance-only transfer alone carries
    // the painting's brightness into the photo; matched first, the painting has the photo's brightness.
    expect(Math.abs(meanLuma(alone.out.result.image) - photoLuma)).toBeGreaterThan(5);
    expect(Math.abs(meanLuma(both.out.result.image) - photoLuma)).toBeLessThan(0.5);
  });
});

describe('stylizeDecodedImage on a planned run (context.scales)', () => {
  const decoded: DecodedInputs = {
    content: { width: 32, height: 32, format: 'png', image: photo(32, 32) },
    styles: [{ image: painting(40, 40), weight: 1 }],
  };

  it("takes the result's size from the plan's last scale, not options.size, and runs the plan", async () => {
    const scales: Scale[] = [
      { width: 16, height: 16, iterations: 2 },
      { width: 24, height: 24, iterations: 3 },
    ];
    const built: string[] = [];
    // Adam never stops early, so every planned iteration runs.
    const out = await stylizeDecodedImage(
      decoded,
      options({ size: 32, optimizer: 'adam' }),
      { format: 'png' },
      {
        weights,
        scales,
        createEngine: async (_, spec) => {
          built.push(`${spec.width}x${spec.height}`);
          return meanColourEngine(spec);
        },
      },
    );
    expect(built).toEqual(['16x16', '24x24']);
    expect(out.content).toMatchObject({ width: 24, height: 24 });
    expect(out.result.image).toMatchObject({ width: 24, height: 24 });
    expect(out.result.iterations).toBe(5);
    expect(await sharp(out.output).metadata()).toMatchObject({ width: 24, height: 24 });
  });

  it('refuses an empty plan as INTERNAL', async () => {
    await expect(
      stylizeDecodedImage(decoded, options({}), { format: 'png' }, { weights, scales: [] }),
    ).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
