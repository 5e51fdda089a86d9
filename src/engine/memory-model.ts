/**
 * The memory model, beside the time model (cost-model.ts): the peak memory of a stylize run, from the
 * result's pixels (the last, largest scale), the optimiser's history, the styles at their resampled size
 * and the decoded inputs, per backend. Host memory is peak RSS (what kills a Lambda); onnx-cuda also has a
 * device-memory estimate (what fails on the Batch GPU). Routing (src/jobs/run/routing.ts) and `--dry-run` use it.
 *
 * The parts, all at the last scale (each scale's engine is released before the next one is built):
 *   base       the process: Node, onnxruntime or tfjs, sharp, the VGG-19 weights and prepared kernels;
 *   network    the loss graph's activations and gradients, bytes per pixel of the result;
 *   optimiser  L-BFGS: two image-sized float32 vectors (s, y) per history pair it has filled, plus its
 *              working vectors; Adam: the two moment vectors;
 *   styles     each style's features at its resampled size (the targets are computed at every scale);
 *   inputs     every decoded input image at its own size (float32 RGB, kept for the whole run);
 *   whole      with tiles (options.tileSize, tiling.ts): the network and the optimiser are a tile's, at
 *              most tileSize x tileSize; the painting's Grams are summed over its own tiles by engines of
 *              the same size before the content's tiles run (so they add nothing to the peak); and the
 *              whole scale is held only as pixels: the image, the next round's blend, the content, the
 *              previous scale's result, and each painting at its style size (twice).
 */
import { backendFor } from './cost-model.js';
import type { StylizeOptions } from './options.js';
import { resampledStyleSize } from './resample.js';
import { iterationsAt } from './schedule.js';
import { isTiled, tileSide } from './tiling.js';
import type { EngineKind } from './types.js';

const MIB = 1024 * 1024;
/** One float32 RGB image-sized vector, bytes per pixel. */
const VECTOR_BYTES_PER_PIXEL = 3 * 4;

interface HostMemory {
  /** Fixed part of the peak RSS, MiB. */
  readonly baseMb: number;
  /** The loss graph: activations and gradients, bytes per result pixel. */
  readonly networkBytesPerPixel: number;
  /** The features graph run on a style, bytes per pixel of the resampled style. */
  readonly styleBytesPerPixel: number;
}

/**
 * Host peak RSS by backend.
 * onnx-cpu, calibrated on real `nst stylize` runs (real weights, tubingen + starry_night, one process each,
 * /usr/bin/time %M, 2 threads): peak RSS 1.40 GB at 512x341 and 2.85 GB at 1024x683 for one L-BFGS
 * iteration (the figures: 2.9 KB per extra pixel, content and style together), 956 MB at 128x96,
 * 997 MB at 256x192, 1404 MB at 512x384 (one iteration; a second run of the same gave 1758 MB: RSS varies
 * by up to 25% with allocator timing, so routing keeps a margin), and the default 512 px job 1.43 GB. Of the
 * 2.9 KB per pixel, 820 B is the style's features: the style-image bomb (a 20000x2 style resampled
 * to 160000x16 = 2.56 M pixels) added 2.1 GB; `--style-scale 2` at 256 px added 56 MB for 123 K more style
 * pixels (460 B/px, so 820 is on the safe side). The rest, 2130 B/px, is the loss graph; the base is what
 * the line through the two large points leaves at zero pixels (918 MB) less the decoded inputs (20 MB).
 * onnx-cuda: the host keeps the process (the CUDA and cuDNN libraries map about 0.6 GB more: an
 * assumption, no GPU is lent here) and the vectors onnxruntime copies to and from the device (x, the
 * gradient, the targets: about 8 vectors); the activations live on the device (GPU_MEMORY below).
 * tfjs-wasm: an assumption until measured: autodiff keeps every forward activation for the backward pass,
 * about twice onnx's loss graph (and its 32-bit WASM heap cannot grow past 4 GB, whatever the host has).
 */
const HOST_MEMORY: Readonly<Record<string, HostMemory>> = {
  'onnx-cpu': { baseMb: 900, networkBytesPerPixel: 2130, styleBytesPerPixel: 820 },
  'onnx-cuda': { baseMb: 1500, networkBytesPerPixel: 8 * VECTOR_BYTES_PER_PIXEL, styleBytesPerPixel: 0 },
  'tfjs-wasm': { baseMb: 700, networkBytesPerPixel: 4300, styleBytesPerPixel: 1640 },
};

/**
 * Device memory of onnx-cuda on the Batch GPUs (g5: A10G 24 GB, g6: L4 24 GB). An assumption, stated as
 * such (no GPU is lent here): the CUDA context, cuDNN's workspace and the weights take about 1 GB; the loss
 * graph is the same as on the CPU (2130 B/px) plus 25% for the CUDA arena growing in powers of two; the
 * style features likewise (820 B/px + 25%). Check it against nvidia-smi on the first real Batch runs.
 */
const GPU_MEMORY = { baseMb: 1024, networkBytesPerPixel: 2660, styleBytesPerPixel: 1025 } as const;

/** L-BFGS working vectors besides its history: x, g, d, the line search's trial and kept x. */
const LBFGS_WORKING_VECTORS = 5;
/** Adam: x, m, v, the gradient, and the average of the iterates (--average-decay). */
const ADAM_VECTORS = 5;
/** A decoded input: float32 RGB (12 B/px) plus sharp's 8-bit buffer while decoding (3-4 B/px). */
const INPUT_BYTES_PER_PIXEL = 16;
/** A tiled scale's whole-image vectors: x, the next round's blend, the content, the previous result. */
const TILED_WHOLE_VECTORS = 4;
/** And each painting at the scale's style size: resampled, and its network-space copy for its tiles. */
const TILED_PAINTING_VECTORS = 2;

export interface MemoryInput {
  /** The result's size (the last scale). */
  readonly width: number;
  readonly height: number;
  /** The style images' sizes as decoded (before any resampling). */
  readonly styles: readonly { readonly width: number; readonly height: number }[];
  /** Pixels of every decoded input at its own size (content, styles, init image); default: none counted. */
  readonly inputPixels?: number;
  /** `iterations` (per scale) bounds the history: it holds at most as many pairs as a scale's iterations. */
  readonly options: Pick<StylizeOptions, 'optimizer' | 'lbfgsHistory' | 'styleScale' | 'iterations'> &
    Partial<Pick<StylizeOptions, 'tileSize'>>;
  readonly engine: EngineKind;
  readonly gpu?: boolean;
}

export interface MemoryEstimate {
  readonly backend: string;
  /** Peak resident memory of the process, MiB (Lambda's "MB"). */
  readonly peakMb: number;
  /** Device memory, MiB (onnx-cuda only). */
  readonly gpuMb?: number;
  /** The parts of peakMb, MiB. */
  readonly parts: {
    readonly base: number;
    readonly network: number;
    readonly optimiser: number;
    readonly styles: number;
    readonly inputs: number;
    /** A tiled scale's whole image, held as pixels (0 untiled). */
    readonly whole: number;
  };
}

/** Bytes per result pixel the optimiser keeps. */
function optimiserBytesPerPixel(options: MemoryInput['options']): number {
  if (options.optimizer === 'adam') return ADAM_VECTORS * VECTOR_BYTES_PER_PIXEL;
  // The final scale has the longest vectors; its iterations bound its history.
  const pairs = Math.min(options.lbfgsHistory, iterationsAt(options.iterations, 0, 1));
  return (LBFGS_WORKING_VECTORS + 2 * pairs) * VECTOR_BYTES_PER_PIXEL;
}

export function estimateMemory(input: MemoryInput): MemoryEstimate {
  const backend = backendFor(input.engine, input.gpu);
  const host = HOST_MEMORY[backend];
  const resultPixels = input.width * input.height;
  const longest = Math.max(input.width, input.height);
  const { tileSize } = input.options;
  const tile = tileSize === undefined || !isTiled(input, tileSize) ? undefined : tileSide(tileSize);
  // A tile is at most tile x tile (tiling.ts); untiled, the network holds the whole result.
  const pixels = tile ? Math.min(input.width, tile) * Math.min(input.height, tile) : resultPixels;
  const resampledStylePixels = input.styles.reduce((sum, style) => {
    const size = resampledStyleSize(style, longest, input.options.styleScale);
    return sum + size.width * size.height;
  }, 0);
  const stylePixels = tile ? 0 : resampledStylePixels;
  const parts = {
    base: host.baseMb,
    network: (pixels * host.networkBytesPerPixel) / MIB,
    optimiser: (pixels * optimiserBytesPerPixel(input.options)) / MIB,
    styles: (stylePixels * host.styleBytesPerPixel) / MIB,
    inputs: ((input.inputPixels ?? 0) * INPUT_BYTES_PER_PIXEL) / MIB,
    whole: tile
      ? ((resultPixels * TILED_WHOLE_VECTORS + resampledStylePixels * TILED_PAINTING_VECTORS) *
          VECTOR_BYTES_PER_PIXEL) /
        MIB
      : 0,
  };
  const peakMb = Object.values(parts).reduce((sum, mb) => sum + mb, 0);
  const gpuMb =
    backend === 'onnx-cuda'
      ? GPU_MEMORY.baseMb +
        (pixels * GPU_MEMORY.networkBytesPerPixel + stylePixels * GPU_MEMORY.styleBytesPerPixel) / MIB
      : undefined;
  return {
    backend,
    peakMb: Math.ceil(peakMb),
    ...(gpuMb === undefined ? {} : { gpuMb: Math.ceil(gpuMb) }),
    parts: {
      base: Math.round(parts.base),
      network: Math.round(parts.network),
      optimiser: Math.round(parts.optimiser),
      styles: Math.round(parts.styles),
      inputs: Math.round(parts.inputs),
      whole: Math.round(parts.whole),
    },
  };
}
