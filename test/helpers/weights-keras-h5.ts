/**
 * Writes VGG-19 weights as a Keras HDF5 weights file, the layout keras-h5.ts reads: root attribute
 * `layer_names`, one group per layer with attribute `weight_names`, kernel (HWIO) then bias.
 */
import h5wasm from 'h5wasm/node';
import type { VggWeights } from '../../src/engine/types.js';
import { biasName, kernelName, VGG19_LAYERS } from '../../src/engine/vgg.js';

export interface KerasH5Options {
  /**
   * Dataset names: 'keras1' as in the released notop file (`block1_conv1/block1_conv1_W_1:0`),
   * 'keras2' as Keras 2 saves them (`block1_conv1/block1_conv1/kernel:0`). Default 'keras2'.
   */
  readonly naming?: 'keras1' | 'keras2';
  /** Layers to leave out. */
  readonly omit?: readonly string[];
  /** Layers whose kernel is stored with this shape instead (same values). */
  readonly kernelShapes?: Readonly<Record<string, number[]>>;
  /** Also write block5_conv2 (random values) and the pooling layers, as the real file has them. */
  readonly extraLayers?: boolean;
  /** Nest the layer groups under /model_weights, as a full-model save (`model.save`) does. */
  readonly fullModel?: boolean;
}

const fixedStrings = (values: string[]) => `S${Math.max(1, ...values.map((v) => v.length))}`;

export async function writeKerasH5(
  file: string,
  weights: VggWeights,
  opts: KerasH5Options = {},
): Promise<void> {
  await h5wasm.ready;
  const naming = opts.naming ?? 'keras2';
  const layers = VGG19_LAYERS.map((l) => l.name).filter((name) => !opts.omit?.includes(name));
  const pools = opts.extraLayers ? ['block1_pool', 'block2_pool', 'block3_pool', 'block4_pool'] : [];
  const extra = opts.extraLayers ? ['block5_conv2'] : [];
  const layerNames = [...layers, ...pools, ...extra];
  const h5 = new h5wasm.File(file, 'w');
  try {
    const root = opts.fullModel ? h5.create_group('model_weights') : h5;
    root.create_attribute('layer_names', layerNames, null, fixedStrings(layerNames));
    root.create_attribute('backend', 'tensorflow');
    root.create_attribute('keras_version', naming === 'keras1' ? '1.2.2' : '2.2.4');
    const writeLayer = (name: string, kernel: Float32Array, kernelShape: number[], bias: Float32Array) => {
      const group = root.create_group(name);
      const names =
        naming === 'keras1' ? [`${name}_W_1:0`, `${name}_b_1:0`] : [`${name}/kernel:0`, `${name}/bias:0`];
      group.create_attribute('weight_names', names, null, fixedStrings(names));
      if (naming === 'keras2') group.create_group(name);
      group.create_dataset({ name: names[0], data: kernel, shape: kernelShape, dtype: '<f' });
      group.create_dataset({ name: names[1], data: bias, shape: [bias.length], dtype: '<f' });
    };
    for (const name of layers) {
      const kernel = weights.get(kernelName(name))!;
      const bias = weights.get(biasName(name))!;
      writeLayer(name, kernel.data, opts.kernelShapes?.[name] ?? [...kernel.shape], bias.data);
    }
    for (const name of pools) root.create_group(name).create_attribute('weight_names', [], [0], 'S1');
    for (const name of extra) {
      writeLayer(
        name,
        new Float32Array(9 * 512 * 512).fill(0.5),
        [3, 3, 512, 512],
        new Float32Array(512).fill(1),
      );
    }
  } finally {
    h5.close();
  }
}
