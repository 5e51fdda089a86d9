/**
 * The onnx engine: one onnxruntime session per scale runs the loss graph (forward, losses and the
 * analytic gradient, see vgg-graph.ts). The targets (content features, blended style Grams) are graph
 * inputs, computed once at creation by a separate features graph.
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { checkEngineCall, validateEngineSpec } from '../engine-spec.js';
import { type StyleRegion, styleRegions } from '../masks.js';
import { blendStyleTargets } from '../style-targets.js';
import { defaultThreads } from '../threads.js';
import type {
  EngineSpec,
  LossAndGradient,
  LossTerms,
  RgbImage,
  TileEngine,
  TileEngineSpec,
} from '../types.js';
import { STYLE_LAYERS, toNetworkInput } from '../vgg.js';
import { type Kernels, prepareKernels } from './kernels.js';
import { createSession, type OnnxBackend } from './session.js';
import { buildFeaturesModel, buildLossModel, IO, targetShapes } from './vgg-graph.js';

/** What the loss graph compares x with. */
interface Targets {
  /** relu4_2 features of the content image, NCHW. */
  readonly content: Float32Array;
  /** A_{r,l} for each region r and relu1_1..relu5_1 (index r * 5 + l): blended style Grams, rescaled (losses.ts). */
  readonly grams: Float32Array[];
}

/** The engine of a whole image, or of one tile of a larger one (spec.tile: its regions and weights). */
export const createOnnxEngine = async (spec: EngineSpec | TileEngineSpec): Promise<OnnxEngine> => {
  validateEngineSpec(spec);
  const threads = spec.threads ?? defaultThreads();
  const kernels = prepareKernels(spec.weights);
  const tile = 'tile' in spec ? spec : undefined;
  const regions = tile?.tile.regions ?? styleRegions(spec.width, spec.height, spec.styles);
  const targets = await computeTargets(spec, regions, kernels, threads, tile?.styleTargets);
  const { session, backend } = await createSession(
    buildLossModel({ ...spec, kernels, regions, tile: tile?.tile }),
    {
      threads,
    },
  );
  return new OnnxEngine(spec, session, backend, targets);
};

/** One lossAndGradient at a time (the optimisers await each): the calls share the output buffers. */
class OnnxEngine implements TileEngine {
  readonly kind = 'onnx';
  readonly width: number;
  readonly height: number;
  readonly styleTargets: readonly Float32Array[];
  private readonly shape: number[];
  private readonly gramShapes: number[][];
  private readonly targetFeeds: Record<string, Tensor>;
  /** Preallocated outputs: onnxruntime writes into them, so a step allocates no large buffers. */
  private readonly fetches: Record<string, Tensor>;
  private disposed = false;

  constructor(
    spec: EngineSpec,
    private readonly session: InferenceSession,
    readonly backend: OnnxBackend,
    targets: Targets,
  ) {
    this.width = spec.width;
    this.height = spec.height;
    this.shape = [1, spec.height, spec.width, 3];
    const shapes = targetShapes(spec.width, spec.height);
    this.styleTargets = targets.grams;
    this.gramShapes = targets.grams.map((_, i) => shapes.grams[i % STYLE_LAYERS.length]);
    this.targetFeeds = { [IO.contentTarget]: new Tensor('float32', targets.content, shapes.content) };
    this.setStyleTargets(targets.grams);
    const scalar = () => new Tensor('float32', new Float32Array(1), []);
    this.fetches = {
      [IO.loss]: scalar(),
      [IO.content]: scalar(),
      [IO.style]: scalar(),
      [IO.tv]: scalar(),
      [IO.grad]: new Tensor('float32', new Float32Array(this.shape[1] * this.shape[2] * 3), this.shape),
    };
  }

  async lossAndGradient(x: Float32Array): Promise<LossAndGradient> {
    checkEngineCall(this, this.disposed, x);
    // The Tensor wraps x without copying.
    await this.session.run(
      { ...this.targetFeeds, [IO.image]: new Tensor('float32', x, this.shape) },
      this.fetches,
    );
    const value = (name: string) => (this.fetches[name].data as Float32Array)[0];
    const terms = {
      content: value(IO.content),
      style: value(IO.style),
      tv: value(IO.tv),
      total: value(IO.loss),
    };
    return { loss: terms.total, grad: this.fetches[IO.grad].data as Float32Array, terms };
  }

  async evaluateTile(x: Float32Array): Promise<{ grams: Float32Array[]; terms: LossTerms }> {
    checkEngineCall(this, this.disposed, x);
    const grams = this.gramShapes.map((_, i) => IO.styleGram(i));
    const out = await this.session.run(
      { ...this.targetFeeds, [IO.image]: new Tensor('float32', x, this.shape) },
      [IO.content, IO.style, IO.tv, IO.loss, ...grams],
    );
    const value = (name: string) => (out[name].data as Float32Array)[0];
    return {
      grams: grams.map((name) => (out[name].data as Float32Array).slice()),
      terms: { content: value(IO.content), style: value(IO.style), tv: value(IO.tv), total: value(IO.loss) },
    };
  }

  setStyleTargets(targets: readonly Float32Array[]): void {
    if (targets.length !== this.gramShapes.length) {
      throw new RangeError(`${targets.length} style targets for ${this.gramShapes.length} style terms`);
    }
    targets.forEach((gram, i) => {
      this.targetFeeds[IO.gramTarget(i)] = new Tensor('float32', gram.slice(), this.gramShapes[i]);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // release() frees the native session synchronously; it can only fail on a second release, which
    // `disposed` rules out.
    void this.session.release();
  }
}

/**
 * Runs the features graph on the content and each style image (unless the spec brings the style targets,
 * as a tile's does); blends each region's style Grams (style-targets.ts).
 */
async function computeTargets(
  spec: EngineSpec,
  regions: readonly StyleRegion[],
  kernels: Kernels,
  threads: number,
  styleTargets: readonly Float32Array[] | undefined,
): Promise<Targets> {
  const { session } = await createSession(buildFeaturesModel(kernels, spec.pooling), { threads });
  const run = (image: RgbImage) =>
    session.run({
      [IO.image]: new Tensor('float32', toNetworkInput(image), [1, image.height, image.width, 3]),
    });
  try {
    // Copied so the targets do not depend on the features session's buffers after it is released.
    const content = ((await run(spec.content))[IO.features].data as Float32Array).slice();
    const grams =
      styleTargets?.map((target) => target.slice()) ??
      (await blendStyleTargets(
        regions,
        spec.styles.map((style) => style.image),
        async (s) => {
          const out = await run(spec.styles[s].image);
          return STYLE_LAYERS.map((_, l) => out[IO.gram(l)].data as Float32Array);
        },
      ));
    return { content, grams };
  } finally {
    await session.release();
  }
}
