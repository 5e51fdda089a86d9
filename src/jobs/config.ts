/**
 * The pipeline's environment contract: the variables the CDK stack sets on the function and the Batch job
 * definition, and the workers read here. Names and defaults live only in this file; infra imports them.
 * Invalid values fail at start-up with the variable's name.
 */
import { z } from 'zod';
import { NstError } from '../errors.js';
import { keyPrefixSchema } from '../storage/key-prefix.js';
import { describeIssues } from '../validation.js';
import { WEIGHTS_DIR_ENV } from '../weights/lookup.js';

/** Variable names of the contract. */
export const PIPELINE_ENV = {
  weightsDir: WEIGHTS_DIR_ENV,
  topicArn: 'NST_TOPIC_ARN',
  batchJobQueue: 'NST_BATCH_JOB_QUEUE',
  batchJobDefinition: 'NST_BATCH_JOB_DEFINITION',
  engine: 'NST_ENGINE',
  threads: 'NST_THREADS',
  deadlineMarginSeconds: 'NST_DEADLINE_MARGIN_SECONDS',
  maxPixels: 'NST_MAX_PIXELS',
  maxInputBytes: 'NST_MAX_INPUT_BYTES',
  leaseSeconds: 'NST_LOCK_LEASE_SECONDS',
  maxContinuations: 'NST_MAX_CONTINUATIONS',
  /** The pipeline's bucket: where a spec invoked directly (a Step Functions task) is written. */
  bucket: 'NST_PIPELINE_BUCKET',
  /** The key prefix the bucket's layout lives under (storage/key-prefix.ts; absent: the bucket's top). */
  keyPrefix: 'NST_KEY_PREFIX',
  /** The EventBridge bus (a name or an ARN) that gets the jobs' events (absent: no events). */
  eventBus: 'NST_EVENT_BUS',
  /** Local mode: where finished jobs' notifications are POSTed, and where every event is. */
  webhookUrl: 'NST_WEBHOOK_URL',
  eventsWebhookUrl: 'NST_EVENTS_WEBHOOK_URL',
  /**
   * Set by the stack: the function's memory (MB) and timeout; the Batch job's timeout (one attempt), how
   * long it may wait RUNNABLE, and the GPU memory of its instances.
   */
  memoryMb: 'NST_MEMORY_MB',
  functionTimeoutSeconds: 'NST_FUNCTION_TIMEOUT_SECONDS',
  batchTimeoutSeconds: 'NST_BATCH_TIMEOUT_SECONDS',
  batchRunnableTimeoutSeconds: 'NST_BATCH_RUNNABLE_TIMEOUT_SECONDS',
  batchGpuMemoryMb: 'NST_BATCH_GPU_MEMORY_MB',
  /** The state machine that fans a job's tiled scales out over Lambda (absent: tiles run in one worker). */
  tilesStateMachineArn: 'NST_TILES_STATE_MACHINE_ARN',
  /** The most Lambda GB-seconds a job may be estimated to cost; a job over it fails with JOB_TOO_LARGE. */
  maxJobGbSeconds: 'NST_MAX_JOB_GB_SECONDS',
} as const;

/** The variables that name one Batch job's work (SubmitJob sets them; the worker reads them). */
export const BATCH_JOB_ENV = { bucket: 'NST_BUCKET', jobId: 'NST_JOB_ID' } as const;

/** Powertools' own variables, set by the stack. */
export const POWERTOOLS_ENV = {
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

export const PIPELINE_DEFAULTS = {
  engine: 'auto',
  deadlineMarginSeconds: 60,
  leaseSeconds: 45,
  maxContinuations: 4,
  /** The stack's defaults: a 10240 MB function, a 240-minute Batch job on a g5/g6 GPU (24 GiB, as infra/constructs/batch-gpu.ts lists it; about 22.5 GiB usable, inside routing's 20% margin). */
  memoryMb: 10240,
  functionTimeoutSeconds: 900,
  batchTimeoutSeconds: 240 * 60,
  batchRunnableTimeoutSeconds: 3600,
  batchGpuMemoryMb: 24_576,
  /**
   * The largest object a job reads, checked before it is downloaded. 200 MiB holds a 40-megapixel image
   * (DEFAULT_MAX_PIXELS) in any format read: 120 MB as uncompressed 8-bit TIFF, far less compressed.
   */
  maxInputBytes: 200 * 1024 * 1024,
  /**
   * The cost cap: 200,000 GB-s is about $3.30 of x86 Lambda time (section 5 of docs/design/tiled-route.md),
   * several times the estimate of a default job at 4096 px.
   */
  maxJobGbSeconds: 200_000,
  /** Tile tasks of one job at once: the tiles' Map's MaxConcurrency (infra/config.ts tileConcurrency). */
  tileConcurrency: 10,
} as const;

const positiveInt = z.coerce.number().int().positive();
/** Where local mode POSTs (NST_WEBHOOK_URL, NST_EVENTS_WEBHOOK_URL, and `nst serve`'s flags). */
export const webhookUrlSchema = z.url({ protocol: /^https?$/, error: 'an http or https URL' });

const envSchema = z.object({
  [PIPELINE_ENV.weightsDir]: z.string().optional(),
  [PIPELINE_ENV.topicArn]: z.string().optional(),
  [PIPELINE_ENV.batchJobQueue]: z.string().optional(),
  [PIPELINE_ENV.batchJobDefinition]: z.string().optional(),
  [PIPELINE_ENV.engine]: z.enum(['auto', 'onnx', 'tfjs']).default(PIPELINE_DEFAULTS.engine),
  [PIPELINE_ENV.threads]: positiveInt.optional(),
  [PIPELINE_ENV.deadlineMarginSeconds]: z.coerce
    .number()
    .min(0)
    .default(PIPELINE_DEFAULTS.deadlineMarginSeconds),
  [PIPELINE_ENV.maxPixels]: positiveInt.optional(),
  [PIPELINE_ENV.maxInputBytes]: positiveInt.default(PIPELINE_DEFAULTS.maxInputBytes),
  [PIPELINE_ENV.leaseSeconds]: z.coerce.number().positive().default(PIPELINE_DEFAULTS.leaseSeconds),
  [PIPELINE_ENV.maxContinuations]: z.coerce.number().int().min(0).default(PIPELINE_DEFAULTS.maxContinuations),
  [PIPELINE_ENV.bucket]: z.string().optional(),
  [PIPELINE_ENV.keyPrefix]: keyPrefixSchema.default(''),
  [PIPELINE_ENV.eventBus]: z.string().optional(),
  [PIPELINE_ENV.webhookUrl]: webhookUrlSchema.optional(),
  [PIPELINE_ENV.eventsWebhookUrl]: webhookUrlSchema.optional(),
  [PIPELINE_ENV.memoryMb]: positiveInt.default(PIPELINE_DEFAULTS.memoryMb),
  [PIPELINE_ENV.functionTimeoutSeconds]: positiveInt.default(PIPELINE_DEFAULTS.functionTimeoutSeconds),
  [PIPELINE_ENV.batchTimeoutSeconds]: positiveInt.default(PIPELINE_DEFAULTS.batchTimeoutSeconds),
  [PIPELINE_ENV.batchRunnableTimeoutSeconds]: positiveInt.default(
    PIPELINE_DEFAULTS.batchRunnableTimeoutSeconds,
  ),
  [PIPELINE_ENV.batchGpuMemoryMb]: positiveInt.default(PIPELINE_DEFAULTS.batchGpuMemoryMb),
  [PIPELINE_ENV.tilesStateMachineArn]: z.string().optional(),
  [PIPELINE_ENV.maxJobGbSeconds]: positiveInt.default(PIPELINE_DEFAULTS.maxJobGbSeconds),
});

export interface PipelineConfig {
  readonly weightsDir?: string;
  readonly topicArn?: string;
  readonly batch?: { readonly jobQueue: string; readonly jobDefinition: string };
  readonly engine: 'auto' | 'onnx' | 'tfjs';
  readonly threads?: number;
  /** Stop and checkpoint this long before the Lambda's deadline. */
  readonly marginSeconds: number;
  readonly maxPixels?: number;
  /** The largest input object read, in bytes (checked before downloading it). */
  readonly maxInputBytes: number;
  /**
   * How long a job lock lasts without renewal. Under a minute, so when a worker dies, Lambda's first retry
   * of the event (a minute later) can take the job over.
   */
  readonly leaseSeconds: number;
  /** Lambda invocations a job may chain at deadlines before it fails (without Batch). */
  readonly maxContinuations: number;
  /** The pipeline's bucket, when the stack names it (a direct invoke's spec goes there). */
  readonly bucket?: string;
  /** Where the layout lives in the bucket: '' or folders ending in '/' (storage/key-prefix.ts). */
  readonly keyPrefix: string;
  /** The EventBridge bus of the jobs' events. */
  readonly eventBus?: string;
  readonly webhookUrl?: string;
  readonly eventsWebhookUrl?: string;
  /** The function's memory (MB): a Lambda job must fit it (routing.ts). */
  readonly memoryMb: number;
  /** The function's timeout: no invocation outlives it (the sweeper waits it out). */
  readonly functionTimeoutSeconds: number;
  /** The Batch job definition's timeout, and its GPU's memory (MB): a Batch job must fit both. */
  readonly batchTimeoutSeconds: number;
  /** How long a Batch job may wait RUNNABLE before the queue cancels it (each attempt). */
  readonly batchRunnableTimeoutSeconds: number;
  readonly batchGpuMemoryMb: number;
  /** The tiles' state machine, when the stack deploys it (src/jobs/tiled). */
  readonly tilesStateMachineArn?: string;
  /** The cost cap of one job, in Lambda GB-seconds (routing.ts). */
  readonly maxJobGbSeconds: number;
}

export function readPipelineConfig(env: Record<string, string | undefined> = process.env): PipelineConfig {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, blank(env[k])])),
  );
  if (!parsed.success) {
    throw new NstError(
      'INVALID_CONFIG',
      `invalid configuration:\n  ${describeIssues(parsed.error).join('\n  ')}`,
    );
  }
  const e = parsed.data;
  const queue = e[PIPELINE_ENV.batchJobQueue];
  const definition = e[PIPELINE_ENV.batchJobDefinition];
  return {
    weightsDir: e[PIPELINE_ENV.weightsDir],
    topicArn: e[PIPELINE_ENV.topicArn],
    batch: queue && definition ? { jobQueue: queue, jobDefinition: definition } : undefined,
    engine: e[PIPELINE_ENV.engine],
    threads: e[PIPELINE_ENV.threads],
    marginSeconds: e[PIPELINE_ENV.deadlineMarginSeconds],
    maxPixels: e[PIPELINE_ENV.maxPixels],
    maxInputBytes: e[PIPELINE_ENV.maxInputBytes],
    leaseSeconds: e[PIPELINE_ENV.leaseSeconds],
    maxContinuations: e[PIPELINE_ENV.maxContinuations],
    bucket: e[PIPELINE_ENV.bucket],
    keyPrefix: e[PIPELINE_ENV.keyPrefix],
    eventBus: e[PIPELINE_ENV.eventBus],
    webhookUrl: e[PIPELINE_ENV.webhookUrl],
    eventsWebhookUrl: e[PIPELINE_ENV.eventsWebhookUrl],
    memoryMb: e[PIPELINE_ENV.memoryMb],
    functionTimeoutSeconds: e[PIPELINE_ENV.functionTimeoutSeconds],
    batchTimeoutSeconds: e[PIPELINE_ENV.batchTimeoutSeconds],
    batchRunnableTimeoutSeconds: e[PIPELINE_ENV.batchRunnableTimeoutSeconds],
    batchGpuMemoryMb: e[PIPELINE_ENV.batchGpuMemoryMb],
    tilesStateMachineArn: e[PIPELINE_ENV.tilesStateMachineArn],
    maxJobGbSeconds: e[PIPELINE_ENV.maxJobGbSeconds],
  };
}
