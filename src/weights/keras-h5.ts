/**
 * Converts Keras' `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` into the weights format of
 * manifest.ts, keeping block1_conv1 .. block5_conv1 and dropping the rest.
 *
 * Keras' HDF5 layout: one group per layer (the root attribute `layer_names` lists them), whose attribute
 * `weight_names` lists the layer's datasets relative to the group, kernel (HWIO) first, then bias. Keras
 * loads them by position, and so do we: the released file names them `block1_conv1_W_1:0` /
 * `block1_conv1_b_1:0` (Keras 1), files saved by Keras 2 `block1_conv1/kernel:0` / `block1_conv1/bias:0`.
 */
import { open, stat } from 'node:fs/promises';
import h5wasm, { type Group, type File as H5File } from 'h5wasm/node';
import type { Tensor32, VggWeights } from '../engine/types.js';
import { biasName, kernelName, VGG19_LAYERS } from '../engine/vgg.js';
import { NstError } from '../errors.js';
import { type WeightsSummary, type WriteWeightsOptions, writeWeights } from './store.js';

export const KERAS_VGG19_NOTOP_FILE = 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5';

const invalid = (h5Path: string, message: string) =>
  new NstError(
    'WEIGHTS_INVALID',
    `${h5Path}: ${message}. Expected Keras' ${KERAS_VGG19_NOTOP_FILE} (get it with \`npx nst weights fetch\`).`,
  );

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** HDF5 files start with a signature at byte 0, 512, 1024, 2048, ... (after an optional user block). */
async function isHdf5(file: string, size: number): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(HDF5_SIGNATURE.length);
    for (let offset = 0; offset + head.length <= size; offset = offset === 0 ? 512 : offset * 2) {
      await handle.read(head, 0, head.length, offset);
      if (head.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** Checks the file ourselves first: h5wasm does not throw on a missing or foreign file. */
async function openH5(h5Path: string): Promise<H5File> {
  let size: number;
  try {
    size = (await stat(h5Path)).size;
  } catch {
    throw invalid(h5Path, 'file not found');
  }
  if (!(await isHdf5(h5Path, size))) throw invalid(h5Path, 'not an HDF5 file');
  await h5wasm.ready;
  const file = new h5wasm.File(h5Path, 'r');
  if (file.file_id < 0n) throw invalid(h5Path, 'HDF5 library could not open the file');
  return file;
}

const asStrings = (value: unknown): string[] =>
  (Array.isArray(value) ? value : [value]).map((v) =>
    v instanceof Uint8Array ? Buffer.from(v).toString() : String(v),
  );

/** The layer's [kernel, bias] dataset paths, from `weight_names` when present. */
function weightPaths(group: Group, layer: string): [string, string] {
  const listed = group.attrs.weight_names ? asStrings(group.attrs.weight_names.value) : [];
  const [kernel, bias] = listed.length >= 2 ? listed : [`${layer}/kernel:0`, `${layer}/bias:0`];
  return [`${group.path}/${kernel}`, `${group.path}/${bias}`];
}

function readTensor(root: Group, h5Path: string, datasetPath: string, shape: number[]): Tensor32 {
  const dataset = root.get(datasetPath);
  if (!(dataset instanceof h5wasm.Dataset)) throw invalid(h5Path, `missing dataset ${datasetPath}`);
  const actual = dataset.shape ?? [];
  if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
    throw invalid(h5Path, `dataset ${datasetPath} has shape [${actual}], expected [${shape}]`);
  }
  const value = dataset.value;
  if (value instanceof Float32Array) return { shape, data: value };
  if (value instanceof Float64Array) return { shape, data: Float32Array.from(value) };
  throw invalid(
    h5Path,
    `dataset ${datasetPath} is not floating point (dtype ${JSON.stringify(dataset.dtype)})`,
  );
}

/** Reads block1_conv1 .. block5_conv1 from a Keras VGG-19 .h5 (weights-only or full-model save). */
async function readKerasH5(h5Path: string): Promise<VggWeights> {
  const file = await openH5(h5Path);
  try {
    // A full-model save (model.save) nests the layer groups under /model_weights.
    const nested = file.get('model_weights');
    const root: Group = nested instanceof h5wasm.Group ? nested : file;
    const weights = new Map<string, Tensor32>();
    for (const layer of VGG19_LAYERS) {
      const group = root.get(layer.name);
      if (!(group instanceof h5wasm.Group)) {
        throw invalid(h5Path, `missing layer group ${root.path.replace(/\/$/, '')}/${layer.name}`);
      }
      const [kernelPath, biasPath] = weightPaths(group, layer.name);
      weights.set(
        kernelName(layer.name),
        readTensor(root, h5Path, kernelPath, [3, 3, layer.inChannels, layer.outChannels]),
      );
      weights.set(biasName(layer.name), readTensor(root, h5Path, biasPath, [layer.outChannels]));
    }
    return weights;
  } finally {
    file.close();
  }
}

/** Converts a Keras VGG-19 .h5 into a weights directory at `outDir` (replaced atomically). */
export async function convertKerasH5(
  h5Path: string,
  outDir: string,
  opts: Pick<WriteWeightsOptions, 'float16'> = {},
): Promise<WeightsSummary> {
  return writeWeights(outDir, await readKerasH5(h5Path), opts);
}
