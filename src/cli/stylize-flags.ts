/**
 * The stylize options as command-line flags: one flag per key of stylizeOptionsSchema (kebab-case), with
 * the schema's description and default in --help. Values are parsed leniently here and validated by the
 * schema, so every problem is reported at once.
 */
import { type Command, Option } from 'commander';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions, stylizeOptionsSchema } from '../engine/options.js';
import { camelToKebab } from '../text.js';

type FlagKind = 'number' | 'boolean' | 'list' | 'number-or-list' | { choices: readonly string[] };

const FLAG_KINDS: Record<keyof StylizeOptions, FlagKind> = {
  size: 'number',
  iterations: 'number-or-list',
  minSize: 'number',
  scaleGrowth: 'number',
  optimizer: { choices: ['lbfgs', 'adam'] },
  learningRate: 'number',
  averageDecay: 'number',
  lbfgsHistory: 'number',
  lineSearch: { choices: ['none', 'strong-wolfe'] },
  contentWeight: 'number',
  styleStrength: 'number',
  styleWeight: 'number',
  tvWeight: 'number',
  styleLayerWeights: 'list',
  pooling: { choices: ['avg', 'max'] },
  init: { choices: ['content', 'random', 'image'] },
  styleScale: 'number',
  originalColors: 'boolean',
  colorMatch: 'boolean',
  seed: 'number',
  saveEvery: 'number',
  engine: { choices: ['auto', 'onnx', 'tfjs'] },
  threads: 'number',
  tileSize: 'number',
};

/** Parses "1,0.8,0.5", "1e3" or "50,30,80" the way users type them; anything else stays a string for zod to reject. */
export function parseOptionValue(kind: FlagKind, raw: string): unknown {
  if (kind === 'number') return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  if (kind === 'list') return raw.split(',').map((part) => parseOptionValue('number', part));
  if (kind === 'number-or-list') return parseOptionValue(raw.includes(',') ? 'list' : 'number', raw);
  return raw;
}

/** Adds every stylize option to a command. */
export function addStylizeOptionFlags(command: Command): Command {
  for (const key of Object.keys(FLAG_KINDS) as (keyof StylizeOptions)[]) {
    const kind = FLAG_KINDS[key];
    const description = stylizeOptionsSchema.shape[key].description ?? key;
    const fallback = DEFAULT_STYLIZE_OPTIONS[key];
    const option =
      kind === 'boolean'
        ? new Option(`--${camelToKebab(key)}`, description)
        : new Option(`--${camelToKebab(key)} <value>`, description).argParser((raw) =>
            parseOptionValue(kind, raw),
          );
    if (typeof kind === 'object') option.choices(kind.choices);
    if (fallback !== undefined && kind !== 'boolean')
      option.default(fallback, Array.isArray(fallback) ? fallback.join(',') : String(fallback));
    command.addOption(option);
  }
  return command;
}

/** The stylize options among a command's parsed flags. */
export function pickStylizeOptions(flags: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(FLAG_KINDS)
      .filter((k) => flags[k] !== undefined)
      .map((k) => [k, flags[k]]),
  );
}
