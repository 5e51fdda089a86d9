/**
 * The stack's settings, read from CDK context (cdk.json holds every key with its default; override one
 * with `npx cdk deploy -c memory=3008`). Values from `-c` arrive as strings, so numbers, booleans and
 * lists are parsed here, and a bad value fails synth with the key's name.
 */
import type { Node } from 'constructs';
import { z } from 'zod';
import { NstError } from '../src/errors.js';
import { PIPELINE_DEFAULTS } from '../src/jobs/config.js';
import { keyPrefixSchema } from '../src/storage/key-prefix.js';
import { describeIssues } from '../src/validation.js';

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const unset = (v: unknown) => (v === null || v === '' ? undefined : v);
const num = (v: unknown) => (typeof v === 'string' ? Number(v) : v);
const bool = (v: unknown) => (v === 'true' ? true : v === 'false' ? false : v);
const list = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : v;

/** The reservation when the key is unset. */
const DEFAULT_RESERVED_CONCURRENCY = 10;

const int = (min: number, max: number) => z.preprocess(num, z.number().int().min(min).max(max));
const flag = z.preprocess(bool, z.boolean());
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(unset, schema.optional());

const configSchema = z.object({
  /** Prefix of the physical names the stack sets (function, job queue, job definition, state machine). */
  namePrefix: z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, 'lower case letters, digits and dashes, up to 30'),
  /** The key prefix the pipeline's folders live under in its bucket ('' or folders ending in '/'). */
  keyPrefix: z.preprocess((v) => (v === null ? '' : v), keyPrefixSchema),
  stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/),
  /** Lambda memory (MB); 10240 gives the function 6 vCPUs. */
  memory: int(128, 10240),
  /** Lambda timeout (seconds); longer jobs checkpoint and continue in a new invocation. */
  timeout: int(30, 900),
  architecture: z.enum(['x86_64', 'arm64']),
  /** Tile tasks of one tiled job at once (the tiles' Map's MaxConcurrency). */
  tileConcurrency: int(1, 1000),
  /** The cost cap: a job estimated at more Lambda GB-seconds fails with JOB_TOO_LARGE. */
  maxJobGbSeconds: int(1, 100_000_000),
  /**
   * Concurrent executions reserved for the function, which is also its ceiling: a storm of uploads queues
   * (Lambda keeps async events up to 6 hours) instead of taking the account's whole concurrency.
   * A number 1..1000; `false` (or `none`): no reservation, the account's unreserved pool; unset (null or
   * empty): the default, 10. `0` is refused: Lambda would throttle every invocation.
   */
  reservedConcurrency: z.preprocess(
    (v) => {
      const value = unset(v);
      if (value === undefined) return DEFAULT_RESERVED_CONCURRENCY;
      return value === 'false' || value === 'none' ? false : num(value);
    },
    z.custom<number | false>(
      (v) => v === false || (Number.isInteger(v) && Number(v) >= 1 && Number(v) <= 1000),
      {
        error: (issue) =>
          issue.input === 0
            ? '0 would throttle every invocation; use false for no reservation'
            : 'a whole number 1..1000, or false for no reservation',
      },
    ),
  ),
  /** The AWS Batch GPU path for jobs too big for Lambda. */
  batch: flag,
  /** EC2 instance families or types for the GPU compute environment. */
  instanceTypes: z.preprocess(
    list,
    z.array(z.string().regex(/^[a-z][a-z0-9-]*\d[a-z0-9-]*(\.[a-z0-9]+)?$/, 'an EC2 family or type')).min(1),
  ),
  spot: flag,
  maxvCpus: int(4, 10000),
  /** Minutes before Batch stops a job (it is then marked failed). */
  batchTimeoutMinutes: int(5, 1440),
  /**
   * Seconds a job may wait RUNNABLE (no GPU capacity or quota) before the job queue cancels it; the job
   * then ends failed with BATCH_NO_CAPACITY. Batch allows 10 minutes to 24 hours.
   */
  batchRunnableTimeoutSeconds: int(600, 86400),
  notificationEmail: optional(z.email()),
  /**
   * The EventBridge bus that gets every job's events (Style Transfer Job Started, Succeeded, Failed): a
   * bus name in this account and region, `default` for the account's default bus.
   */
  eventBus: z.string().regex(/^[A-Za-z0-9._\-/]{1,256}$/, 'an event bus name'),
  logRetentionDays: z.preprocess(
    num,
    z.number().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      message: `one of ${LOG_RETENTION_DAYS.join(', ')}`,
    }),
  ),
  /** Days before progress frames and checkpoints (tagged nst-temporary=true) expire. */
  temporaryExpiryDays: int(1, 3650),
  /** An existing VPC for the Batch instances (needs credentials at synth: it is looked up). */
  vpcId: optional(z.string().regex(/^vpc-[0-9a-f]+$/)),
  /** Source of the weights layer; unset: NST_WEIGHTS_DIR, then ./models/vgg19. */
  weightsDir: optional(z.string()),
  weightsFloat16: flag,
  /** Where the layers are built before synth (a cache between synths). */
  layerBuildDir: z.string().min(1),
});

export type NstConfig = z.infer<typeof configSchema>;
type ConfigKey = keyof NstConfig;
export const CONFIG_KEYS = Object.keys(configSchema.shape) as ConfigKey[];

/** The defaults, as cdk.json states them (a test holds the two equal). */
export const DEFAULT_CONFIG: NstConfig = {
  namePrefix: 'nst',
  keyPrefix: '',
  stackName: 'ServerlessStyleTransfer',
  memory: PIPELINE_DEFAULTS.memoryMb,
  timeout: PIPELINE_DEFAULTS.functionTimeoutSeconds,
  architecture: 'x86_64',
  tileConcurrency: PIPELINE_DEFAULTS.tileConcurrency,
  maxJobGbSeconds: PIPELINE_DEFAULTS.maxJobGbSeconds,
  reservedConcurrency: DEFAULT_RESERVED_CONCURRENCY,
  batch: true,
  instanceTypes: ['g5', 'g6'],
  spot: false,
  maxvCpus: 16,
  batchTimeoutMinutes: PIPELINE_DEFAULTS.batchTimeoutSeconds / 60,
  batchRunnableTimeoutSeconds: PIPELINE_DEFAULTS.batchRunnableTimeoutSeconds,
  notificationEmail: undefined,
  eventBus: 'default',
  logRetentionDays: 30,
  temporaryExpiryDays: 7,
  vpcId: undefined,
  weightsDir: undefined,
  weightsFloat16: true,
  layerBuildDir: 'node_modules/.cache/serverless-style-transfer/layers',
};

/** Parses raw values (context or overrides); missing keys take their defaults. */
export function parseConfig(raw: Partial<Record<ConfigKey, unknown>>): NstConfig {
  const merged = Object.fromEntries(
    CONFIG_KEYS.map((key) => [key, raw[key] === undefined ? DEFAULT_CONFIG[key] : raw[key]]),
  );
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new NstError(
      'INVALID_OPTION',
      `Invalid CDK context:\n  ${describeIssues(parsed.error).join('\n  ')}\n(set values in cdk.json or with -c key=value)`,
    );
  }
  return parsed.data;
}

/** Keys that were renamed: a deployment that still sets one would otherwise be silently renamed. */
const RENAMED_KEYS: Readonly<Record<string, string>> = {
  prefix:
    'namePrefix (the names of the function, state machine and job queue) or keyPrefix (the folder in the bucket)',
};

/** The settings from a construct's context (cdk.json and -c). */
export function readConfig(node: Node): NstConfig {
  for (const [old, now] of Object.entries(RENAMED_KEYS)) {
    if (node.tryGetContext(old) !== undefined)
      throw new NstError('INVALID_OPTION', `Invalid CDK context: ${old} is now ${now}`);
  }
  return parseConfig(Object.fromEntries(CONFIG_KEYS.map((key) => [key, node.tryGetContext(key)])));
}
