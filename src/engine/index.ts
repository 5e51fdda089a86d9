/**
 * Engine selection: `auto` takes the fastest engine that loads (onnx, then tfjs). Engines are imported
 * lazily so a missing native runtime only matters to the engine that needs it.
 */
import { NstError } from '../errors.js';
import type {
  EngineChoice,
  EngineFactory,
  EngineKind,
  EngineSpec,
  StyleEngine,
  TileEngine,
  TileEngineSpec,
} from './types.js';

const loaders: Record<EngineKind, () => Promise<EngineFactory>> = {
  onnx: async () => (await import('./onnx/engine.js')).createOnnxEngine,
  tfjs: async () => (await import('./tfjs/engine.js')).createTfjsEngine,
};

/** Preference order for `auto`. */
const ENGINE_PREFERENCE: readonly EngineKind[] = ['onnx', 'tfjs'];

const factories = new Map<EngineKind, Promise<EngineFactory>>();

function loadEngineFactory(kind: EngineKind): Promise<EngineFactory> {
  let factory = factories.get(kind);
  if (!factory) {
    factory = loaders[kind]().catch((cause: unknown) => {
      factories.delete(kind);
      throw new NstError(
        'ENGINE_UNAVAILABLE',
        `the ${kind} engine cannot load here: ${(cause as Error).message}`,
        { cause },
      );
    });
    factories.set(kind, factory);
  }
  return factory;
}

/** The engine kind `choice` resolves to on this machine. */
export async function resolveEngineKind(choice: EngineChoice): Promise<EngineKind> {
  if (choice !== 'auto') {
    await loadEngineFactory(choice);
    return choice;
  }
  for (const kind of ENGINE_PREFERENCE) {
    try {
      await loadEngineFactory(kind);
      return kind;
    } catch {
      // try the next one
    }
  }
  throw new NstError(
    'ENGINE_UNAVAILABLE',
    'no engine loads on this machine (neither onnxruntime-node nor tfjs)',
  );
}

export async function createEngine(choice: EngineChoice, spec: EngineSpec): Promise<StyleEngine> {
  const kind = await resolveEngineKind(choice);
  return (await loadEngineFactory(kind))(spec);
}

/** Refuses an engine choice that cannot run tiles: tiles need the onnx engine. */
export async function checkTileEngine(choice: EngineChoice): Promise<void> {
  const kind = await resolveEngineKind(choice);
  if (kind !== 'onnx') {
    throw new NstError(
      'INVALID_OPTION',
      `tiles (tileSize) need the onnx engine; the ${kind} engine optimises whole images only`,
    );
  }
}

/** The engine of one tile (tiling.ts): the onnx engine's; tfjs optimises whole images only. */
export async function createTileEngine(choice: EngineChoice, spec: TileEngineSpec): Promise<TileEngine> {
  await checkTileEngine(choice);
  return (await import('./onnx/engine.js')).createOnnxEngine(spec);
}

/** Every engine that loads here, in preference order. */
export async function availableEngines(): Promise<EngineKind[]> {
  const kinds: EngineKind[] = [];
  for (const kind of ENGINE_PREFERENCE) {
    try {
      await loadEngineFactory(kind);
      kinds.push(kind);
    } catch {
      // not available
    }
  }
  return kinds;
}
