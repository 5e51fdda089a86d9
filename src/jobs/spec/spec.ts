/**
 * The job spec: what to stylise with what, every stylize option (the CLI's long flags in camelCase, one
 * schema shared with the CLI) and the output format. Users write it as jobs/<name>.json; drop-ins are
 * turned into the same shape from their key and metadata. Published as JSON Schema in schema/.
 */
import { z } from 'zod';
import { stylizeOptionsSchema } from '../../engine/options.js';
import { NstError } from '../../errors.js';
import { OUTPUT_FORMATS } from '../../image/formats.js';
import { describeIssues } from '../../validation.js';
import { KEY_PREFIXES, MASK_PREFIXES, prefixList, SPEC_IMAGE_PREFIXES } from './keys.js';

/** Limits of pipeline jobs (the CLI has its own machine and may go further). */
export const PIPELINE_LIMITS = {
  /** saveEvery is 0 (no frames) or at least this: a frame per iteration is an upload per iteration. */
  minSaveEvery: 10,
  /** Progress frames per job: more are spread out (saveEvery raised) so at most this many are written. */
  maxFrames: 100,
} as const;

/** A job spec file is a few hundred bytes; anything over this is not one. */
export const MAX_SPEC_BYTES = 1024 * 1024;

/**
 * A key in this bucket under one of `prefixes`: the function may read only READ_PREFIXES (its IAM role), so
 * any other key would be denied at run time; refusing it here names the field.
 */
const keyUnder = (prefixes: string | readonly string[], example: string) => {
  const under = typeof prefixes === 'string' ? [prefixes] : prefixes;
  return (
    z
      .string()
      .min(1)
      .max(1024)
      // A regex rather than startsWith(), whose JSON Schema carries a nonstandard format strict validators refuse.
      .regex(
        new RegExp(under.length === 1 ? `^${under[0]}` : `^(${under.join('|')})`),
        `must be an object key in this bucket under ${prefixList(under)}, like ${example}`,
      )
      // S3 keeps `.` and `..` segments as they are, but nothing the pipeline reads is named so (and the local
      // server refuses them): a clear input error here rather than a retried request there.
      .refine((key) => !key.split('/').some((s) => s === '.' || s === '..'), 'must not have . or .. segments')
  );
};

export const outputSettingsSchema = z
  .object({
    format: z
      .enum(OUTPUT_FORMATS)
      .optional()
      .describe("Format of the result (default: the content's format when it can be written, else jpeg)"),
    quality: z.number().int().min(1).max(100).optional().describe('Quality of lossy formats (default 92)'),
    keepAlpha: z.boolean().default(false).describe("Carry the content's transparency into the result"),
  })
  .strict();

/** A Step Functions task token (the context object's `$$.Task.Token`), as SendTaskSuccess takes it. */
const taskTokenSchema = z.string().min(1).max(2048);

export const jobSpecSchema = z
  .object({
    $schema: z.string().optional().describe('The JSON Schema of this file, for editors'),
    taskToken: taskTokenSchema
      .optional()
      .describe(
        "A Step Functions task token ($$.Task.Token): at the job's end, SendTaskSuccess (output: the job notification) or SendTaskFailure (error: the code; cause: the message), and SendTaskHeartbeat while it runs",
      ),
    content: keyUnder(SPEC_IMAGE_PREFIXES, `${KEY_PREFIXES.assets}photo.jpg`).describe(
      `Key of the content photo in this bucket, under ${prefixList(SPEC_IMAGE_PREFIXES)} (an upload to ` +
        `${KEY_PREFIXES.inputs} is also a drop-in job of its own; one to ${KEY_PREFIXES.assets} starts nothing)`,
    ),
    styles: z
      .array(
        z
          .object({
            key: keyUnder(KEY_PREFIXES.styles, `${KEY_PREFIXES.styles}starry.jpg`).describe(
              `Key of a style painting in this bucket, under ${KEY_PREFIXES.styles}`,
            ),
            weight: z
              .number()
              .positive()
              .default(1)
              .describe('Blend weight (normalised among the styles that share a mask, or share none)'),
            mask: keyUnder(MASK_PREFIXES, `${KEY_PREFIXES.styles}masks/sky.png`)
              .optional()
              .describe(
                `Key of this style's mask, under ${prefixList(MASK_PREFIXES)}: a greyscale image ` +
                  'of any size, stretched to the content; white: the style applies, black: it does not. Where ' +
                  'masks overlap past white they share the pixel; a pixel no mask covers gets only the content ' +
                  'and TV losses; a style without a mask covers the whole image',
              ),
          })
          .strict(),
      )
      .min(1)
      .max(8)
      .describe('Style paintings with blend weights and optional masks'),
    initImage: keyUnder(SPEC_IMAGE_PREFIXES, `${KEY_PREFIXES.assets}start.jpg`)
      .optional()
      .describe(
        `Key of the starting image for options.init "image", under ${prefixList(SPEC_IMAGE_PREFIXES)}`,
      ),
    options: stylizeOptionsSchema.prefault({}).describe('Stylize options: the CLI long flags in camelCase'),
    output: outputSettingsSchema.prefault({}).describe('Output format'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.options.init === 'image' && !spec.initImage) {
      ctx.addIssue({ code: 'custom', path: ['initImage'], message: 'options.init "image" needs initImage' });
    }
    const { saveEvery } = spec.options;
    if (saveEvery > 0 && saveEvery < PIPELINE_LIMITS.minSaveEvery) {
      ctx.addIssue({
        code: 'custom',
        path: ['options', 'saveEvery'],
        message: `must be 0 (no frames) or at least ${PIPELINE_LIMITS.minSaveEvery} in pipeline jobs`,
      });
    }
  })
  // The token is the job's waiter, not how to stylise: job.json keeps it apart (taskTokenIn).
  .transform(({ taskToken: _waiter, ...spec }) => spec);

export type JobSpec = z.output<typeof jobSpecSchema>;

/**
 * The task token of a spec's text, read before (and whatever) its validation says: a workflow waiting on
 * a job whose spec is invalid hears that failure too. Undefined for text with no usable token.
 */
export function taskTokenIn(text: string): string | undefined {
  try {
    const parsed = taskTokenSchema.safeParse((JSON.parse(text) as { taskToken?: unknown })?.taskToken);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The JSON Schema users validate their job files with (schema/job-spec.schema.json). */
export function jobSpecJsonSchema(): Record<string, unknown> {
  const { $schema, ...schema } = z.toJSONSchema(jobSpecSchema, { io: 'input' });
  return {
    $schema,
    title: 'serverless-style-transfer job spec',
    description:
      "An explicit job: upload it as jobs/<name>.json to the pipeline bucket. Keys name objects in that bucket, relative to the pipeline's key prefix when it has one (a spec at art/jobs/x.json names art/assets/photo.jpg as assets/photo.jpg).",
    ...schema,
  };
}

const invalidSpec = (source: string, problems: string[]): NstError =>
  new NstError('INVALID_JOB_SPEC', `${source} is not a valid job spec:\n  ${problems.join('\n  ')}`);

/** Validates a parsed spec; the error lists every problem. */
export function validateJobSpec(value: unknown, source: string): JobSpec {
  const parsed = jobSpecSchema.safeParse(value);
  if (!parsed.success) throw invalidSpec(source, describeIssues(parsed.error));
  return parsed.data;
}

/** Parses and validates the text of a jobs/<name>.json file. */
export function parseJobSpec(text: string, source: string): JobSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalidSpec(source, [`not valid JSON (${(e as Error).message})`]);
  }
  return validateJobSpec(value, source);
}
