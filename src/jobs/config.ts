/**
 * Pipeline configuration from the environment (the CDK stack sets these on the function; see the shared
 * pipeline contract). Invalid values fail at start-up with the variable's name.
 */
import { z } from 'zod';
import { describeIssues } from '../engine/options.js';
import { NstError } from '../errors.js';

const positiveInt = z.coerce.number().int().positive();

const envSchema = z.object({
  NST_WEIGHTS_DIR: z.string().optional(),
  NST_TOPIC_ARN: z.string().optional(),
  NST_BATCH_JOB_QUEUE: z.string().optional(),
  NST_BATCH_JOB_DEFINITION: z.string().optional(),
  NST_ENGINE: z.enum(['auto', 'onnx', 'tfjs']).default('auto'),
  NST_THREADS: positiveInt.optional(),
  NST_DEADLINE_MARGIN_SECONDS: z.coerce.number().min(0).default(60),
  NST_MAX_PIXELS: positiveInt.optional(),
  NST_LOCK_LEASE_SECONDS: z.coerce.number().positive().default(45),
  NST_MAX_CONTINUATIONS: z.coerce.number().int().min(0).default(4),
  NST_WEBHOOK_URL: z.url().optional(),
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
  /**
   * How long a job lock lasts without renewal. Under a minute, so when a worker dies, Lambda's first retry
   * of the event (a minute later) can take the job over.
   */
  readonly leaseSeconds: number;
  /** Lambda invocations a job may chain at deadlines before it fails (without Batch). */
  readonly maxContinuations: number;
  readonly webhookUrl?: string;
}

export function readPipelineConfig(env: Record<string, string | undefined> = process.env): PipelineConfig {
  const blank = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, blank(env[k])])),
  );
  if (!parsed.success) {
    throw new NstError(
      'INVALID_OPTION',
      `invalid configuration:\n  ${describeIssues(parsed.error).join('\n  ')}`,
      {
        kind: 'internal',
      },
    );
  }
  const e = parsed.data;
  const batch =
    e.NST_BATCH_JOB_QUEUE && e.NST_BATCH_JOB_DEFINITION
      ? { jobQueue: e.NST_BATCH_JOB_QUEUE, jobDefinition: e.NST_BATCH_JOB_DEFINITION }
      : undefined;
  return {
    weightsDir: e.NST_WEIGHTS_DIR,
    topicArn: e.NST_TOPIC_ARN,
    batch,
    engine: e.NST_ENGINE,
    threads: e.NST_THREADS,
    marginSeconds: e.NST_DEADLINE_MARGIN_SECONDS,
    maxPixels: e.NST_MAX_PIXELS,
    leaseSeconds: e.NST_LOCK_LEASE_SECONDS,
    maxContinuations: e.NST_MAX_CONTINUATIONS,
    webhookUrl: e.NST_WEBHOOK_URL,
  };
}
