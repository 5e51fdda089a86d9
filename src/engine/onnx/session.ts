/**
 * onnxruntime-node sessions: MLAS on all requested cores, every graph optimisation, and the CUDA
 * execution provider when its provider library is installed (the GPU container's build installs it
 * with ONNXRUNTIME_NODE_INSTALL=cuda12; elsewhere the CPU provider runs).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InferenceSession, listSupportedBackends } from 'onnxruntime-node';
import { NstError } from '../../errors.js';

export type OnnxBackend = 'onnx-cpu' | 'onnx-cuda';

export interface OnnxSession {
  readonly session: InferenceSession;
  readonly backend: OnnxBackend;
}

export interface SessionOptions {
  readonly threads: number;
}

/**
 * Whether the CUDA provider library sits beside the native binding (trying without it only logs an
 * error). require.resolve of an absolute path finds a file exactly when it exists.
 */
function cudaInstalled(): boolean {
  if (!listSupportedBackends().some((b) => b.name === 'cuda')) return false;
  const require = createRequire(import.meta.url);
  const binding = dirname(require.resolve('onnxruntime-node'));
  const lib = join(
    binding,
    '..',
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
    'libonnxruntime_providers_cuda.so',
  );
  try {
    require.resolve(lib);
    return true;
  } catch {
    return false;
  }
}

/** Whether CUDA works here: unknown until a session tries it, then remembered for the process. */
let cudaWorks: boolean | undefined;

function options(opts: SessionOptions, cuda: boolean): InferenceSession.SessionOptions {
  return {
    executionProviders: cuda ? ['cuda', 'cpu'] : ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    // The memory pattern pre-plans one block for all intermediates: +550 MB peak at 512 px (1.63 vs 1.09 GB)
    // for no measurable speed-up.
    enableMemPattern: false,
    logSeverityLevel: 3,
  };
}

/** A session for `model`, on CUDA when it works here, else on the CPU. */
export async function createSession(model: Uint8Array, opts: SessionOptions): Promise<OnnxSession> {
  if (cudaWorks === undefined && !cudaInstalled()) cudaWorks = false;
  if (cudaWorks !== false) {
    try {
      const session = await InferenceSession.create(model, options(opts, true));
      cudaWorks = true;
      return { session, backend: 'onnx-cuda' };
    } catch {
      cudaWorks = false; // the provider is installed but cannot start (no GPU, driver mismatch): use the CPU
    }
  }
  try {
    return { session: await InferenceSession.create(model, options(opts, false)), backend: 'onnx-cpu' };
  } catch (cause) {
    throw new NstError(
      'ENGINE_UNAVAILABLE',
      `onnxruntime cannot load the VGG-19 graph: ${(cause as Error).message}`,
      { cause },
    );
  }
}
