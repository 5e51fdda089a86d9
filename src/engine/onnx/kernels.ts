/**
 * The VGG-19 weights in the layouts the ONNX graphs use, converted once per engine and shared by its
 * two graphs.
 */
import type { VggWeights } from '../types.js';
import { biasName, kernelName, VGG19_LAYERS } from '../vgg.js';

/** A conv layer's weights in the graphs' layouts. */
export interface LayerKernels {
  /** OIHW [O,I,3,3], for the forward conv. */
  readonly forward: Float32Array;
  /** [I,O,3,3], rotated 180 degrees: the conv that computes the input gradient. */
  readonly backward: Float32Array;
  readonly bias: Float32Array;
}

/** By Keras layer name (block1_conv1 ...). */
export type Kernels = ReadonlyMap<string, LayerKernels>;

export function prepareKernels(weights: VggWeights): Kernels {
  const data = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new RangeError(`missing weight ${name}`);
    return t.data;
  };
  return new Map(
    VGG19_LAYERS.map((l) => {
      const hwio = data(kernelName(l.name));
      const kernels: LayerKernels = {
        forward: convKernel(hwio, l.inChannels, l.outChannels, false),
        backward: convKernel(hwio, l.inChannels, l.outChannels, true),
        bias: data(biasName(l.name)),
      };
      return [l.name, kernels];
    }),
  );
}

/** Keras HWIO [3,3,I,O] -> OIHW [O,I,3,3]; with `flip`, the input-gradient kernel [I,O,3,3] rotated 180 degrees. */
function convKernel(hwio: Float32Array, cin: number, cout: number, flip: boolean): Float32Array {
  const out = new Float32Array(hwio.length);
  for (let tap = 0; tap < 9; tap++) {
    const dest = flip ? 8 - tap : tap; // (kh, kw) -> (2 - kh, 2 - kw) is tap -> 8 - tap
    for (let i = 0; i < cin; i++) {
      const src = (tap * cin + i) * cout;
      for (let o = 0; o < cout; o++) {
        out[(flip ? i * cout + o : o * cin + i) * 9 + dest] = hwio[src + o];
      }
    }
  }
  return out;
}
