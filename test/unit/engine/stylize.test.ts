/**
 * The coarse-to-fine driver on the real engines with generated weights: it lowers the loss, is
 * deterministic, reports progress, stops on abort with a checkpoint and resumes from it.
 */
import { describe, expect, it } from 'vitest';
import { createEngine } from '../../../src/engine/index.js';
import { MAX_ASPECT_RATIO, MAX_STYLE_PIXELS } from '../../../src/engine/input-limits.js';
import { averageIterates, createOptimiser } from '../../../src/engine/optim/index.js';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../../../src/engine/options.js';
import { resampleHwc } from '../../../src/engine/resample.js';
import { ETA_MIN_ITERATIONS } from '../../../src/engine/run-clock.js';
import { type Progress, StylizeAborted, stylize } from '../../../src/engine/stylize.js';
import type { EngineChoice, EngineSpec, StyleEngine } from '../../../src/engine/types.js';
import { fromNetworkInput, generateVggWeights, toNetworkInput } from '../../../src/engine/vgg.js';
import { transferLuminance } from '../../../src/image/colour.js';
import { skyGroundMasks } from '../../helpers/engine-spec.js';
import { photoLike } from '../../helpers/images.js';

const weights = generateVggWeights(5);
const content = photoLike(40, 32, 1);
const style = { image: photoLike(36, 36, 7), weight: 1 };
const options = (overrides: Partial<StylizeOptions> = {}): StylizeOptions => ({
  ...DEFAULT_STYLIZE_OPTIONS,
  size: 40,
  minSize: 20,
  scaleGrowth: Math.SQRT2,
  iterations: 30,
  ...overrides,
});

describe('stylize', () => {
  it('lowers the total loss at least 10x over a small coarse-to-fine run', async () => {
    const progress: Progress[] = [];
    // From noise, so every term starts far from its optimum; generated weights give small features, so
    // beta is raised to keep the style term in play.
    const result = await stylize(
      { content, styles: [style] },
      options({ init: 'random', styleWeight: 1e6 }),
      {
        weights,
        onProgress: (p) => progress.push(p),
      },
    );
    expect(result.image.width).toBe(40);
    expect(result.image.height).toBe(32);
    expect(result.scales.map((s) => s.width)).toEqual([20, 28, 40]);
    expect(result.initial.total / result.final.total).toBeGreaterThan(10);
    expect(result.initial.style / result.final.style).toBeGreaterThan(10);
    for (const v of result.image.data) expect(v >= 0 && v <= 255).toBe(true);
    // Progress: every iteration reported, in order, with a finite ETA that reaches 0.
    expect(progress).toHaveLength(result.iterations);
    expect(progress.map((p) => p.done)).toEqual(progress.map((_, i) => i + 1));
    expect(progress.at(-1)!.etaSeconds).toBeCloseTo(0, 6);
    // No ETA while the first iterations (which include building the engine) are all there is to go by.
    expect(progress.slice(0, ETA_MIN_ITERATIONS - 1).map((p) => p.etaSeconds)).toEqual(
      Array(ETA_MIN_ITERATIONS - 1).fill(undefined),
    );
    expect(progress[ETA_MIN_ITERATIONS - 1].etaSeconds).toBeGreaterThan(0);
  });

  it('is deterministic for the same inputs, seed and engine', async () => {
    const run = () =>
      stylize({ content, styles: [style] }, options({ init: 'random', seed: 11, iterations: 5 }), {
        weights,
      });
    const [a, b] = [await run(), await run()];
    expect(Buffer.from(a.image.data.buffer).equals(Buffer.from(b.image.data.buffer))).toBe(true);
    const c = await stylize(
      { content, styles: [style] },
      options({ init: 'random', seed: 12, iterations: 5 }),
      { weights },
    );
    expect(Buffer.from(a.image.data.buffer).equals(Buffer.from(c.image.data.buffer))).toBe(false);
  });

  it('emits intermediate images every saveEvery iterations', async () => {
    const frames: number[] = [];
    await stylize({ content, styles: [style] }, options({ iterations: 4, saveEvery: 3 }), {
      weights,
      onProgress: (p) => p.image && frames.push(p.done),
    });
    expect(frames).toEqual([3, 6, 9, 12]);
  });

  it('blends several styles; with the luminance transfer (original colours) the chroma is kept', async () => {
    const second = { image: photoLike(30, 40, 3), weight: 0.3 };
    const result = await stylize(
      { content, styles: [style, second] },
      options({ iterations: 3, originalColors: true }),
      {
        weights,
      },
    );
    // originalColors is applied by render() after stylize(), as here.
    const image = transferLuminance(result.image, content);
    // Luminance-only transfer: the result's chroma is the content's, so (R - B) stays close to it.
    let diff = 0;
    for (let i = 0; i < content.data.length; i += 3) {
      diff += Math.abs(image.data[i] - image.data[i + 2] - (content.data[i] - content.data[i + 2]));
    }
    expect(diff / (content.data.length / 3)).toBeLessThan(12);
  });

  it('stops on abort with a checkpoint, and resumes from it to the same size', async () => {
    const controller = new AbortController();
    const error = await stylize({ content, styles: [style] }, options({ iterations: 6 }), {
      weights,
      signal: controller.signal,
      onProgress: (p) => p.done === 8 && controller.abort(new Error('deadline')),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StylizeAborted);
    const { checkpoint } = error as StylizeAborted;
    expect(checkpoint).toMatchObject({ scaleIndex: 1, iteration: 2 });
    expect(checkpoint.image.width).toBe(28);

    const seen: Progress[] = [];
    const resumed = await stylize({ content, styles: [style] }, options({ iterations: 6 }), {
      weights,
      resume: checkpoint,
      onProgress: (p) => seen.push(p),
    });
    expect(seen[0]).toMatchObject({ scaleIndex: 1, iteration: 3, done: 9 });
    // The resumed run counts its iterations afresh for its first ETA.
    expect(seen[ETA_MIN_ITERATIONS - 2].etaSeconds).toBeUndefined();
    expect(seen[ETA_MIN_ITERATIONS - 1].etaSeconds).toBeDefined();
    expect(resumed.iterations).toBe(4 + 6);
    expect(resumed.image.width).toBe(40);
  });

  it('builds one engine per scale and disposes each', async () => {
    const created: string[] = [];
    let disposed = 0;
    const counting = async (choice: EngineChoice, spec: EngineSpec): Promise<StyleEngine> => {
      const engine = await createEngine(choice, spec);
      created.push(`${spec.width}x${spec.height}`);
      return {
        ...engine,
        lossAndGradient: (x) => engine.lossAndGradient(x),
        dispose: () => {
          disposed++;
          engine.dispose();
        },
      };
    };
    await stylize({ content, styles: [style] }, options({ iterations: 2 }), {
      weights,
      createEngine: counting,
    });
    expect(created).toEqual(['20x16', '28x22', '40x32']);
    expect(disposed).toBe(3);
  });

  it('rejects a run without styles, or init image without an image', async () => {
    await expect(stylize({ content, styles: [] }, options(), { weights })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    await expect(
      stylize({ content, styles: [style] }, options({ init: 'image' }), { weights }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
  });

  describe('style masks', () => {
    const [sky, ground] = skyGroundMasks(40, 32);
    const masked = [
      { ...style, mask: sky },
      { image: photoLike(30, 30, 9), weight: 1, mask: ground },
    ];

    it("resizes each mask to every scale's size (values kept in 0..1) and leaves unmasked styles unmasked", async () => {
      const specs: EngineSpec[] = [];
      await stylize({ content, styles: [...masked, style] }, options({ iterations: 1 }), {
        weights,
        createEngine: async (choice, spec) => {
          specs.push(spec);
          return createEngine(choice, spec);
        },
      });
      expect(specs.map((s) => s.styles.map((st) => st.mask && `${st.mask.width}x${st.mask.height}`))).toEqual(
        [
          ['20x16', '20x16', undefined],
          ['28x22', '28x22', undefined],
          ['40x32', '40x32', undefined],
        ],
      );
      for (const spec of specs) {
        const m = spec.styles[0].mask!;
        expect(m.data.every((v) => v >= 0 && v <= 1)).toBe(true);
        expect(m.data[m.width + 5]).toBeCloseTo(1, 5); // row 1: sky
        expect(m.data[(m.height - 1) * m.width + 5]).toBeCloseTo(0, 5); // bottom row: ground
      }
      expect(Array.from(specs[2].styles[1].mask!.data)).toEqual(Array.from(ground.data));
    });

    it('refuses a mask not at the content size before building an engine', async () => {
      const wrong = { ...style, mask: skyGroundMasks(20, 16)[0] };
      await expect(
        stylize({ content, styles: [wrong] }, options(), {
          weights,
          createEngine: async () => {
            throw new Error('no engine should be built');
          },
        }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: "the mask of style image 1 is 20x16; it must be at the content's size, 40x32",
      });
    });

    it('refuses an all-black mask (its style would do nothing) before building an engine', async () => {
      const black = { ...style, mask: { width: 40, height: 32, data: new Float32Array(40 * 32) } };
      await expect(
        stylize({ content, styles: [black, style] }, options(), {
          weights,
          createEngine: async () => {
            throw new Error('no engine should be built');
          },
        }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/style image 1 is all black/),
      });
    });

    it('stops on abort with a checkpoint and resumes from it with the same masks', async () => {
      const input = { content, styles: masked };
      const opts = options({ iterations: 10, minSize: 40 });
      const whole = await stylize(input, opts, { weights });
      const controller = new AbortController();
      let stopped: StylizeAborted | undefined;
      try {
        await stylize(input, opts, {
          weights,
          signal: controller.signal,
          onProgress: (p) => {
            if (p.done === 4) controller.abort('deadline');
          },
        });
      } catch (e) {
        stopped = e as StylizeAborted;
      }
      expect(stopped).toBeInstanceOf(StylizeAborted);
      const resumed = await stylize(input, opts, { weights, resume: stopped!.checkpoint });
      expect(resumed.iterations).toBe(6);
      // L-BFGS restarts its history at the checkpoint, so the result is close to, not equal to, the whole run's.
      expect(resumed.final.style).toBeLessThan(whole.initial.style);
      expect(Math.abs(resumed.final.total - whole.final.total) / whole.final.total).toBeLessThan(0.5);
    });
  });

  describe('style bounds: checked before any engine is built', () => {
    const neverBuilt = () => {
      const built: EngineSpec[] = [];
      const createEngine = async (_choice: EngineChoice, spec: EngineSpec): Promise<StyleEngine> => {
        built.push(spec);
        throw new Error('no engine should be built');
      };
      return { built, createEngine };
    };

    it(`refuses a style more elongated than ${MAX_ASPECT_RATIO}:1 (20000x2 would be resampled to 160000x16)`, async () => {
      const bomb = { image: { width: 20_000, height: 2, data: new Float32Array(20_000 * 2 * 3) }, weight: 1 };
      const { built, createEngine } = neverBuilt();
      await expect(
        stylize({ content, styles: [style, bomb] }, options({ size: 64, minSize: 64 }), {
          weights,
          createEngine,
        }),
      ).rejects.toMatchObject({
        code: 'IMAGE_TOO_LARGE',
        message:
          'style image 2 is 20000x2, an aspect ratio of 10000:1, over the limit of 32:1: crop it first',
      });
      expect(built).toEqual([]);
    });

    it('takes a style at the aspect limit, its short side raised to 16 px (512x16 at most)', async () => {
      const long = { image: photoLike(64, 2, 3), weight: 1 };
      const specs: EngineSpec[] = [];
      await stylize({ content, styles: [long] }, options({ iterations: 1, minSize: 40 }), {
        weights,
        createEngine: async (choice, spec) => {
          specs.push(spec);
          return createEngine(choice, spec);
        },
      });
      expect(specs.map((s) => [s.styles[0].image.width, s.styles[0].image.height])).toEqual([[512, 16]]);
    });

    it('refuses a styleScale that would resample a style past the largest result', async () => {
      // A 1100x16 result at styleScale 4: the square style would become 4400x4400 (19.4 megapixels).
      const wide = { width: 1100, height: 16, data: new Float32Array(1100 * 16 * 3) };
      const { built, createEngine } = neverBuilt();
      await expect(
        stylize({ content: wide, styles: [style] }, options({ size: 1100, minSize: 1100, styleScale: 4 }), {
          weights,
          createEngine,
        }),
      ).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(
          /^style image 1 \(36x36\) would be resampled to 4400x4400 \(19\.4 megapixels\) at styleScale 4, over the limit of 16\.8 megapixels/,
        ),
      });
      expect(built).toEqual([]);
      expect(MAX_STYLE_PIXELS).toBe(4096 * 4096);
    });
  });
});

describe('Adam with iterate averaging', () => {
  /** A tiny engine per scale: loss 0.5 |x - t|^2 towards a fixed image t; it records where it was evaluated. */
  const target = photoLike(40, 32, 4);
  function recordingEngines() {
    const evaluated: Float32Array[][] = [];
    const objectives: ((x: Float32Array) => Promise<{ loss: number; grad: Float32Array }>)[] = [];
    const createEngine = async (_: EngineChoice, spec: EngineSpec): Promise<StyleEngine> => {
      const t = toNetworkInput(
        fromNetworkInput(
          resampleHwc(toNetworkInput(target), 40, 32, spec.width, spec.height),
          spec.width,
          spec.height,
        ),
      );
      const seen: Float32Array[] = [];
      evaluated.push(seen);
      const objective = async (x: Float32Array) => {
        const grad = x.map((v, i) => v - t[i]);
        const loss = 0.5 * grad.reduce((a, g) => a + g * g, 0);
        return { loss, grad, terms: { content: 0, style: loss, tv: 0, total: loss } };
      };
      objectives.push(objective);
      return {
        kind: 'onnx',
        backend: 'test',
        width: spec.width,
        height: spec.height,
        lossAndGradient: async (x) => {
          seen.push(x.slice());
          return objective(x);
        },
        dispose() {},
      };
    };
    return { evaluated, objectives, createEngine };
  }
  const adam = (overrides: Partial<StylizeOptions> = {}) =>
    options({ optimizer: 'adam', iterations: 5, averageDecay: 0.9, ...overrides });
  const close = (a: Float32Array, b: Float32Array) => a.every((v, i) => Math.abs(v - b[i]) < 1e-3);

  it("makes each scale's result the average: reported, evaluated, and where the next scale starts", async () => {
    const { evaluated, objectives, createEngine } = recordingEngines();
    const result = await stylize({ content, styles: [style] }, adam(), { weights, createEngine });
    // The first scale: its 5 Adam steps, then one evaluation of its result, the average.
    expect(evaluated[0]).toHaveLength(6);
    const again = averageIterates(createOptimiser('adam', evaluated[0][0], objectives[0]), 0.9);
    for (let i = 0; i < 5; i++) await again.step();
    expect(close(evaluated[0][5], again.x)).toBe(true);
    expect(result.scales[0].final.total).toBe((await objectives[0](again.x)).loss);
    // The next scale starts from that average, upsampled.
    expect(close(evaluated[1][0], resampleHwc(again.x, 20, 16, 28, 22))).toBe(true);
    // The last scale: the initial image, 5 steps, the result; the result is the last evaluation.
    expect(evaluated[2]).toHaveLength(7);
    const last = evaluated[2][6];
    expect(close(toNetworkInput(result.image), last)).toBe(true);
    expect(result.final.total).toBe((await objectives[2](last)).loss);
  });

  it('is plain Adam at averageDecay 0: no extra evaluation, the last iterate is the result', async () => {
    const { evaluated, objectives, createEngine } = recordingEngines();
    const result = await stylize({ content, styles: [style] }, adam({ averageDecay: 0 }), {
      weights,
      createEngine,
    });
    expect(evaluated[0]).toHaveLength(5);
    const plain = createOptimiser('adam', evaluated[0][0], objectives[0]);
    for (let i = 0; i < 5; i++) await plain.step();
    expect(close(evaluated[1][0], resampleHwc(plain.x, 20, 16, 28, 22))).toBe(true);
    expect(result.scales[0].final.total).toBe((await objectives[0](evaluated[0][4])).loss);
  });

  it('averages with Adam when asked (off by default); L-BFGS never does', async () => {
    const runWith = async (overrides: Partial<StylizeOptions>) => {
      const { evaluated, createEngine } = recordingEngines();
      const { image } = await stylize(
        { content, styles: [style] },
        options({ iterations: 5, ...overrides }),
        {
          weights,
          createEngine,
        },
      );
      return { evaluations: evaluated[0].length, image: Array.from(image.data) };
    };
    expect((await runWith({ optimizer: 'adam', averageDecay: 0.9 })).evaluations).toBe(6);
    expect((await runWith({ optimizer: 'adam' })).evaluations).toBe(5);
    expect(await runWith({ optimizer: 'adam' })).toEqual(
      await runWith({ optimizer: 'adam', averageDecay: 0 }),
    );
    expect(await runWith({ optimizer: 'lbfgs' })).toEqual(
      await runWith({ optimizer: 'lbfgs', averageDecay: 0 }),
    );
  });

  it('checkpoints the average (the frames show it too) and resumes from it', async () => {
    const single = adam({ minSize: 40, iterations: 10, saveEvery: 4 });
    const frames: Progress[] = [];
    const controller = new AbortController();
    const error = await stylize({ content, styles: [style] }, single, {
      weights,
      signal: controller.signal,
      createEngine: recordingEngines().createEngine,
      onProgress: (p) => {
        if (p.image) frames.push(p);
        if (p.done === 4) controller.abort(new Error('deadline'));
      },
    }).catch((e: unknown) => e);
    const { checkpoint } = error as StylizeAborted;
    expect(checkpoint).toMatchObject({ scaleIndex: 0, iteration: 4 });
    // The same 4 steps, run to the end: the result (the average) is the checkpoint's image.
    const four = await stylize(
      { content, styles: [style] },
      { ...single, iterations: 4 },
      {
        weights,
        createEngine: recordingEngines().createEngine,
      },
    );
    const clamp = (d: Float32Array) => d.map((v) => Math.min(255, Math.max(0, v)));
    expect(close(clamp(checkpoint.image.data), four.image.data)).toBe(true);
    expect(close(frames[0].image!.data, four.image.data)).toBe(true);
    // Resumed: Adam and the average restart from the checkpoint's image, and run the 6 iterations left.
    const { evaluated, createEngine } = recordingEngines();
    const resumed = await stylize({ content, styles: [style] }, single, {
      weights,
      createEngine,
      resume: checkpoint,
    });
    expect(close(evaluated[0][1], toNetworkInput(checkpoint.image))).toBe(true);
    expect(resumed.iterations).toBe(6);
  });
});
