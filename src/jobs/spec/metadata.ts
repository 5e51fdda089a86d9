/**
 * Drop-in options from object metadata: `x-amz-meta-nst-<option>` with the CLI's long flag names
 * (`x-amz-meta-nst-size: 512`, `x-amz-meta-nst-original-colors: true`,
 * `x-amz-meta-nst-style-layer-weights: 1,0.8,0.5,0.3,0.1`), plus the output settings `nst-format`,
 * `nst-quality` and `nst-keep-alpha`. Metadata values are strings; each is read as the type the option's
 * schema expects, and the whole spec is validated at once so every problem is listed.
 */
import type { z } from 'zod';
import { stylizeOptionsSchema } from '../../engine/options.js';
import { NstError } from '../../errors.js';
import { camelToKebab, kebabToCamel, parseBooleanText } from '../../text.js';
import { type JobSpec, jobSpecSchema, outputSettingsSchema } from './spec.js';

/** S3 returns user metadata without the x-amz-meta- prefix, lower-cased. */
export const METADATA_PREFIX = 'nst-';
const HEADER_PREFIX = `x-amz-meta-${METADATA_PREFIX}`;

/**
 * The job id a presigned upload was given in advance (client/presign.ts): signed into its URL, so the
 * uploader cannot change it, and the job of that upload takes it (job-id.ts, uploadJobId).
 */
export const JOB_ID_METADATA = `${METADATA_PREFIX}job-id`;

type Shape = Record<string, z.ZodType>;
const OPTION_FIELDS = stylizeOptionsSchema.shape as unknown as Shape;
const OUTPUT_FIELDS = outputSettingsSchema.shape as unknown as Shape;

/** The schema type under default/optional wrappers: 'number', 'boolean', 'array', 'union', 'enum', ... */
function baseType(schema: z.ZodType): { type: string; element?: z.ZodType; options?: z.ZodType[] } {
  let def = schema._zod.def as {
    type: string;
    innerType?: z.ZodType;
    element?: z.ZodType;
    options?: z.ZodType[];
  };
  while (def.innerType && ['default', 'prefault', 'optional', 'nullable'].includes(def.type)) {
    def = def.innerType._zod.def as typeof def;
  }
  return { type: def.type, element: def.element, options: def.options };
}

/** A metadata string as the type the schema expects; unparseable values stay strings for zod to report. */
function coerce(value: string, schema: z.ZodType): unknown {
  const { type, element, options } = baseType(schema);
  const text = value.trim();
  switch (type) {
    case 'number':
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : value;
    case 'boolean':
      return parseBooleanText(text) ?? value;
    case 'array':
      return element ? text.split(',').map((item) => coerce(item, element)) : value;
    case 'union': {
      // The first member that accepts the value read its way (`200` a number, `50,30,80` a list).
      const read = (options ?? []).map((member) => ({ member, value: coerce(value, member) }));
      return (read.find((r) => r.member.safeParse(r.value).success) ?? { value }).value;
    }
    default:
      return text;
  }
}

/** Every nst-* metadata entry as options / output fields; unknown names are reported. */
export function optionsFromMetadata(metadata: Readonly<Record<string, string>>): {
  options: Record<string, unknown>;
  output: Record<string, unknown>;
  unknown: string[];
} {
  const options: Record<string, unknown> = {};
  const output: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [rawName, value] of Object.entries(metadata)) {
    const name = rawName.toLowerCase();
    if (!name.startsWith(METADATA_PREFIX) || name === JOB_ID_METADATA) continue;
    const field = kebabToCamel(name.slice(METADATA_PREFIX.length));
    if (field in OPTION_FIELDS) options[field] = coerce(value, OPTION_FIELDS[field]);
    else if (field in OUTPUT_FIELDS) output[field] = coerce(value, OUTPUT_FIELDS[field]);
    else unknown.push(`x-amz-meta-${name}`);
  }
  return { options, output, unknown };
}

/** The drop-in's job spec from its keys and metadata; the error names each bad header. */
export function specFromMetadata(
  metadata: Readonly<Record<string, string>>,
  base: { content: string; styles: { key: string; weight: number }[] },
): JobSpec {
  const { options, output, unknown } = optionsFromMetadata(metadata);
  const parsed = jobSpecSchema.safeParse({
    content: base.content,
    styles: base.styles,
    options,
    output,
  });
  const problems = unknown.map((header) => `${header}: not an option (options are the CLI's long flags)`);
  if (parsed.success && problems.length === 0) return parsed.data;
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const [group, field] = issue.path.map(String);
    const header = field ? `${HEADER_PREFIX}${camelToKebab(field)}` : group;
    const raw = field ? metadata[`${METADATA_PREFIX}${camelToKebab(field)}`] : undefined;
    problems.push(`${header}: ${issue.message}${raw === undefined ? '' : ` (got "${raw}")`}`);
  }
  throw new NstError(
    'INVALID_OPTION',
    `${base.content} has invalid options in its metadata:\n  ${problems.join('\n  ')}`,
  );
}
