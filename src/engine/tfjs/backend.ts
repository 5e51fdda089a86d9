/**
 * Loads TensorFlow.js once per process: `@tensorflow/tfjs-node` where it is installed (an optional
 * dependency with a native binary), else tfjs-core on the WASM backend.
 *
 * Every tfjs module in this engine takes `tf` from here (and imports only types statically), so all
 * tensors come from the one tfjs-core instance the chosen backend registered with.
 *
 * Threads: the WASM backend's multithreaded SIMD binary does not run in Node with tfjs 4.22. tfjs-core
 * reports no thread support under Node (tensorflow/tfjs#3830), and forcing the flag makes Emscripten
 * start its pthread workers from `blob:` URLs, which Node's Worker rejects (ERR_WORKER_PATH) and the
 * process dies. So Node gets the single-threaded SIMD binary; `threads` is passed on for runtimes
 * where it does apply.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';
import { NstError } from '../../errors.js';
import { defaultThreads } from '../threads.js';
import { registerMissingGradients } from './gradients.js';

export type Tf = typeof TfCore;
type TfjsBackend = 'tfjs-node' | 'tfjs-wasm';

export interface LoadedTf {
  readonly tf: Tf;
  readonly backend: TfjsBackend;
}

type Preference = 'node' | 'wasm' | 'auto';

let loading: Promise<LoadedTf> | undefined;

/**
 * The tfjs namespace and the backend it runs on, memoised: options only count on the first call.
 * NST_TFJS_BACKEND=node|wasm forces a backend (for tests); unset, tfjs-node wins where it loads.
 */
export function loadTf(opts: { threads?: number } = {}): Promise<LoadedTf> {
  loading ??= load(opts.threads).catch((e: unknown) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function load(threads = defaultThreads()): Promise<LoadedTf> {
  const preference = backendPreference();
  if (preference !== 'wasm') {
    const node = await tryTfjsNode();
    if (node) return node;
    if (preference === 'node') {
      throw new NstError(
        'ENGINE_UNAVAILABLE',
        'NST_TFJS_BACKEND=node but @tensorflow/tfjs-node does not load here; install it or unset NST_TFJS_BACKEND',
      );
    }
  }
  return loadWasm(threads);
}

function backendPreference(): Preference {
  const value = process.env.NST_TFJS_BACKEND;
  if (value === undefined || value === '') return 'auto';
  if (value === 'node' || value === 'wasm') return value;
  throw new NstError('INVALID_OPTION', `NST_TFJS_BACKEND must be 'node' or 'wasm' (got '${value}')`);
}

async function tryTfjsNode(): Promise<LoadedTf | undefined> {
  // A variable specifier: the package is optional, so TypeScript must not need its types.
  const specifier = '@tensorflow/tfjs-node';
  try {
    const loaded = (await import(specifier)) as Tf & { default?: Tf };
    const tf = loaded.default ?? loaded; // CommonJS: module.exports is the whole namespace
    await tf.setBackend('tensorflow');
    await tf.ready();
    return { tf: prepared(tf), backend: 'tfjs-node' };
  } catch {
    return undefined;
  }
}

async function loadWasm(threads: number): Promise<LoadedTf> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmDistFolder());
  wasm.setThreadsCount(Math.max(1, Math.floor(threads)));
  if (!(await tf.setBackend('wasm'))) {
    throw new NstError('ENGINE_UNAVAILABLE', 'the tfjs WASM backend failed to initialise');
  }
  await tf.ready();
  return { tf: prepared(tf), backend: 'tfjs-wasm' };
}

/** The folder holding the .wasm binaries: the package's dist/, next to its Node entry point. */
function wasmDistFolder(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep;
}

/** Float32 (the loss is checked against float32 references; a 16-bit backend would not do) and gradients. */
function prepared(tf: Tf): Tf {
  const precision = tf.backend().floatPrecision();
  if (precision !== 32) {
    throw new NstError(
      'ENGINE_UNAVAILABLE',
      `the tfjs backend computes in float${precision}, the engine needs float32`,
    );
  }
  registerMissingGradients(tf);
  return tf;
}
