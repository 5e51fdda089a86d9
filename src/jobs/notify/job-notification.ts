/**
 * The one document a job's subscribers get, whatever the channel: the SNS message of a finished job, the
 * detail of its EventBridge events (job-events.ts) and the local webhooks' bodies. Its JSON Schema is
 * published as schema/job-notification.schema.json (schema/generate.ts), from the zod schema here.
 */
import { z } from 'zod';
import { ENGINE_KINDS } from '../../engine/types.js';
import { ERROR_KINDS, type ErrorCode, NstError } from '../../errors.js';
import { EVENT_SOURCE } from '../../product.js';
import { WORKER_KINDS } from '../deployment.js';
import type { JobManifest, JobStatus } from '../lifecycle/manifest.js';
import { outputKeys } from '../spec/keys.js';

const seconds = z.number().min(0);
const isoTime = z.iso.datetime();
const errorCodes = Object.keys(ERROR_KINDS) as [ErrorCode, ...ErrorCode[]];
/** The statuses a job is told in: all but `queued`, which tells nothing. */
const NOTIFIED_STATUSES = ['running', 'succeeded', 'failed'] as const satisfies readonly JobStatus[];

export const jobNotificationSchema = z.object({
  jobId: z.string().describe('The job id: outputs/<jobId>/ holds its result and job.json'),
  status: z
    .enum(NOTIFIED_STATUSES)
    .describe(
      'running: the job started; then succeeded or failed. Each is told at least once: a retry may repeat one (the same jobId and status)',
    ),
  bucket: z
    .string()
    .describe("The pipeline's bucket, where every key below is (the whole key, with the pipeline's prefix)"),
  input: z
    .object({
      source: z.string().describe('The upload that started the job (inputs/... or jobs/...)'),
      content: z.string().optional().describe('The photo (absent when the spec itself was unreadable)'),
      styles: z.array(z.string()).describe('The paintings'),
    })
    .describe('The keys the job reads'),
  output: z
    .object({
      uri: z.string().describe('s3://bucket/key'),
      key: z.string(),
      width: z.number().int().positive(),
      height: z.number().int().positive(),
      bytes: z.number().int().positive(),
    })
    .optional()
    .describe("A succeeded job's result"),
  manifest: z.string().describe("The job's status manifest (job.json), as s3://bucket/key"),
  timings: z.object({
    createdAt: isoTime,
    startedAt: isoTime.optional(),
    finishedAt: isoTime.optional(),
    phases: z
      .object({ fetch: seconds, stylize: seconds, store: seconds })
      .describe('Seconds per phase, summed over runs'),
  }),
  route: z
    .object({
      worker: z.enum(WORKER_KINDS),
      engine: z.enum(ENGINE_KINDS).optional(),
      estimatedSeconds: seconds,
      availableSeconds: seconds.optional(),
    })
    .optional()
    .describe("Where the job's last run went, with the cost model's estimate (absent before routing)"),
  engine: z
    .object({ kind: z.enum(ENGINE_KINDS), backend: z.string() })
    .optional()
    .describe('The engine that made the result'),
  error: z
    .object({ code: z.enum(errorCodes), message: z.string() })
    .optional()
    .describe("A failed job's error: a code from the README's error table, and what went wrong"),
});

export type JobNotification = z.infer<typeof jobNotificationSchema>;
export type NotifiedStatus = JobNotification['status'];

/**
 * The notification of a job as its manifest says it: running (its first run), succeeded or failed. The
 * manifest's keys are the pipeline's, relative to its key prefix; a listener gets the bucket's own keys.
 */
export function notificationFor(manifest: JobManifest, keyPrefix = ''): JobNotification {
  const key = (pipelineKey: string) => `${keyPrefix}${pipelineKey}`;
  const uri = (pipelineKey: string) => `s3://${manifest.bucket}/${key(pipelineKey)}`;
  const { output, route, engine, error } = manifest;
  return {
    jobId: manifest.jobId,
    status: notifiedStatus(manifest),
    bucket: manifest.bucket,
    input: {
      source: key(manifest.source.key),
      ...(manifest.spec ? { content: key(manifest.spec.content) } : {}),
      styles: manifest.spec?.styles.map((s) => key(s.key)) ?? [],
    },
    ...(output ? { output: { uri: uri(output.key), ...output, key: key(output.key) } } : {}),
    manifest: uri(outputKeys(manifest.jobId).manifest),
    timings: manifest.timings,
    ...(route ? { route } : {}),
    ...(engine ? { engine } : {}),
    ...(error ? { error } : {}),
  };
}

function notifiedStatus({ status, jobId }: JobManifest): NotifiedStatus {
  if (status === 'queued') throw new NstError('INTERNAL', `job ${jobId} is queued: nothing to notify`);
  return status;
}

/** The published JSON Schema of the document. */
export function jobNotificationJsonSchema(): Record<string, unknown> {
  const { $schema, ...schema } = z.toJSONSchema(jobNotificationSchema, { io: 'input' });
  return {
    $schema,
    title: 'serverless-style-transfer job notification',
    description: `A job's notification: the SNS message of a finished job, and the detail of its EventBridge events (source ${EVENT_SOURCE}).`,
    ...schema,
  };
}
