/**
 * What `nst serve` and `nst submit` do (their flags are in commands/serve.ts). `nst serve`: the pipeline on
 * this machine (an embedded S3 server whose uploads to inputs/ and jobs/ run through the same handler as the
 * Lambda). `nst submit`: drop a photo into it (or into a real bucket).
 */
import path from 'node:path';
import { presignDropIn } from '../client/presign.js';
import { submitDropIn, waitForJob } from '../client/submit.js';
import type { Progress } from '../engine/stylize.js';
import { NstError } from '../errors.js';
import { writeFileAtomic } from '../image/encode.js';
import { type PipelineConfig, webhookUrlSchema } from '../jobs/config.js';
import { type JobManifest, jobProgress } from '../jobs/lifecycle/manifest.js';
import { type LocalPipeline, startLocalPipeline } from '../jobs/local/local-pipeline.js';
import { parseTileWorkers } from '../jobs/run/tile-pool.js';
import { cachedWeights } from '../jobs/wiring/weights-cache.js';
import type { ObjectStore } from '../storage/object-store.js';
import { LOCAL_CREDENTIALS, PRESIGNING_SETTINGS } from '../storage/s3-client.js';
import { resolveWeightsDir } from '../weights/lookup.js';
import { DEFAULT_BUCKET, DEFAULT_PORT } from './commands/s3-flags.js';
import type { ServeFlags, SubmitFlags } from './commands/serve.js';
import { watchJob } from './job-watch.js';
import { jobLine } from './progress-text.js';
import { keyPrefixFlag, pipelineStore, s3Target, withS3Target } from './s3-target.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

function parsePort(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new NstError('INVALID_OPTION', `${name} must be a port number, got ${value}`);
  return n;
}

/** A webhook flag: an http(s) URL (as the environment's must be), or absent. */
function parseWebhook(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!webhookUrlSchema.safeParse(value).success)
    throw new NstError('INVALID_OPTION', `${name} must be an http or https URL, got ${value}`);
  return value;
}

/**
 * What the flags set of the pipeline's configuration, over the environment's (NST_WEBHOOK_URL,
 * NST_EVENTS_WEBHOOK_URL, NST_KEY_PREFIX and the rest of NST_*).
 */
function configFlags(flags: ServeFlags): Partial<PipelineConfig> {
  const webhookUrl = parseWebhook(flags.webhook, '--webhook');
  const eventsWebhookUrl = parseWebhook(flags.eventsWebhook, '--events-webhook');
  return {
    ...(webhookUrl ? { webhookUrl } : {}),
    ...(eventsWebhookUrl ? { eventsWebhookUrl } : {}),
    ...(flags.prefix !== undefined ? { keyPrefix: keyPrefixFlag(flags.prefix) } : {}),
  };
}

export interface ServeControl {
  /** Resolves when the server should stop (default: SIGINT or SIGTERM). */
  readonly until?: Promise<void>;
  readonly onReady?: (pipeline: LocalPipeline) => void;
}

export async function serve(flags: ServeFlags, control: ServeControl = {}): Promise<void> {
  const port = parsePort(flags.port, '--port');
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new NstError('INVALID_OPTION', '--concurrency must be a positive integer');
  const config = configFlags(flags);
  const weightsDir = resolveWeightsDir({ flag: flags.weights });
  await cachedWeights(weightsDir); // a bad weights folder fails now, not at the first job
  const pipeline = await startLocalPipeline({
    dataDir: path.resolve(flags.data),
    bucket: flags.bucket,
    port,
    loadWeights: () => cachedWeights(weightsDir),
    config,
    concurrency,
    tileWorkers: parseTileWorkers(flags.workers),
    onProgress: progressReporter(say),
  });
  say(serveInstructions(pipeline.endpoint, pipeline.store, path.resolve(flags.data)));
  control.onReady?.(pipeline);
  await (control.until ??
    new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    }));
  say('nst: stopping (running jobs finish first; Ctrl-C again to quit at once)');
  if (!control.until) process.once('SIGINT', () => process.exit(130));
  await pipeline.close();
}

/** What `nst serve` prints: the endpoint and how to drop files in. */
export function serveInstructions(
  endpoint: string,
  { bucket, keyPrefix }: Pick<ObjectStore, 'bucket' | 'keyPrefix'>,
  dataDir: string,
): string {
  const port = new URL(endpoint).port;
  const aws = `AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} aws --endpoint-url ${endpoint}`;
  const at = [
    ...(port === String(DEFAULT_PORT) ? [] : [`--endpoint ${endpoint}`]),
    ...(bucket === DEFAULT_BUCKET ? [] : [`--bucket ${bucket}`]),
    ...(keyPrefix ? [`--prefix ${keyPrefix}`] : []),
  ]
    .map((flag) => ` ${flag}`)
    .join('');
  const root = `s3://${bucket}/${keyPrefix}`;
  return [
    `nst: local S3 pipeline at ${endpoint}, bucket "${bucket}"${keyPrefix ? `, under ${keyPrefix}` : ''} (data in ${dataDir})`,
    '',
    `  Stylise a photo (uploads the painting to ${keyPrefix}styles/starry.jpg, the photo to ${keyPrefix}inputs/starry/photo-<job id>.jpg):`,
    `    npx nst submit photo.jpg --style starry.jpg --size 512${at}`,
    `    npx nst submit photo2.jpg --style starry --wait${at}        # a style already in the bucket; wait for the result`,
    '',
    '  Or with the AWS CLI (options as metadata, the CLI flags in kebab-case after nst-):',
    `    ${aws} s3 cp starry.jpg ${root}styles/starry.jpg`,
    `    ${aws} s3 cp photo.jpg ${root}inputs/starry/photo.jpg --metadata nst-size=512,nst-iterations=100`,
    `    ${aws} s3 cp photo.jpg ${root}assets/photo.jpg   # a spec's photo: starts nothing`,
    `    ${aws} s3 cp job.json ${root}jobs/job.json     # an explicit job spec (schema/job-spec.schema.json)`,
    '',
    `  Results: ${root}outputs/<jobId>/result.<ext> and job.json (the status).`,
    `    ${aws} s3 ls --recursive ${root}outputs/`,
    '  Jobs a stopped server left unfinished resume from their checkpoint or fail (at start-up, then every minute).',
    '',
    '  Ctrl-C stops the server.',
  ].join('\n');
}

/** Prints a job's progress at most every few seconds, and at each new scale, worded as `nst status` words it. */
export function progressReporter(
  write: (line: string) => void,
  everyMs = 5000,
): (jobId: string, p: Progress) => void {
  const last = new Map<string, { at: number; scale: number }>();
  return (jobId, p) => {
    const seen = last.get(jobId);
    const now = Date.now();
    if (seen && seen.scale === p.scaleIndex && now - seen.at < everyMs && p.done < p.total) return;
    last.set(jobId, { at: now, scale: p.scaleIndex });
    write(jobLine(jobId, 'running', jobProgress(p, new Date(now))));
  };
}

/** Uploads the photo (and the painting, when a file) with the options given as metadata; with --wait, waits and downloads. */
export async function submit(
  content: string,
  flags: SubmitFlags,
  options: Record<string, unknown>,
): Promise<void> {
  if (flags.presign) return presign(content, flags, options);
  await withS3Target(s3Target(flags), async (client) => {
    const store = pipelineStore(client, flags);
    const submitted = await submitDropIn(store, dropInRequest(content, flags, options));
    say(`nst: uploaded ${store.uri(submitted.contentKey)} (style ${store.uri(submitted.styleKey)})`);
    say(`nst: job ${submitted.jobId}: status ${store.uri(submitted.statusKey)}`);
    if (!flags.wait) return;
    const watch = watchJob({ tty: Boolean(process.stderr.isTTY), write: say });
    let manifest: JobManifest;
    try {
      manifest = await waitForJob(store, submitted.jobId, { onUpdate: (m) => watch.update(m) });
    } finally {
      watch.stop();
    }
    if (manifest.status === 'failed') {
      throw new NstError(manifest.error?.code ?? 'INTERNAL', manifest.error?.message ?? 'the job failed');
    }
    const files = await downloadJob(store, manifest, path.resolve(flags.out, submitted.jobId));
    say(`nst: job ${submitted.jobId} succeeded: ${files.result} (status ${files.manifest})`);
  });
}

/** What `nst submit` asks of a drop-in, uploaded or presigned. */
const dropInRequest = (content: string, flags: SubmitFlags, options: Record<string, unknown>) => ({
  content,
  style: flags.style,
  options,
  output: { format: flags.format, quality: flags.quality },
});

/**
 * `nst submit --presign`: prints (stdout, JSON) a presigned PUT of the photo for a client without
 * credentials, with the headers it must send and the job id the upload will have; uploads nothing.
 */
async function presign(content: string, flags: SubmitFlags, options: Record<string, unknown>): Promise<void> {
  if (flags.wait)
    throw new NstError(
      'INVALID_OPTION',
      '--presign and --wait exclude each other: nothing is uploaded to wait for',
    );
  const expires = flags.expires === undefined ? undefined : Number(flags.expires);
  if (expires !== undefined && !Number.isInteger(expires))
    throw new NstError('INVALID_OPTION', `--expires must be a whole number of seconds, got ${flags.expires}`);
  await withS3Target(s3Target(flags, process.env, PRESIGNING_SETTINGS), async (client) => {
    const store = pipelineStore(client, flags);
    const upload = await presignDropIn(store, {
      ...dropInRequest(content, flags, options),
      expiresInSeconds: expires,
    });
    process.stdout.write(`${JSON.stringify(upload, null, 2)}\n`);
    const headers = Object.entries(upload.headers)
      .map(([name, value]) => ` -H '${name}: ${value}'`)
      .join('');
    say(`nst: job ${upload.jobId} starts when the photo is PUT to the URL (until ${upload.expiresAt}):`);
    say(`  curl -X PUT --upload-file ${path.basename(content)}${headers} '${upload.url}'`);
  });
}

/** Downloads a finished job's result and job.json into `dir`. */
export async function downloadJob(
  store: ObjectStore,
  manifest: JobManifest,
  dir: string,
): Promise<{ resultKey: string; result: string; manifest: string }> {
  if (!manifest.output) throw new NstError('INTERNAL', `job ${manifest.jobId} has no result recorded`);
  const resultKey = manifest.output.key;
  const result = await store.get(resultKey);
  if (!result) throw new NstError('INTERNAL', `${store.uri(resultKey)} is missing`);
  const files = { result: path.join(dir, path.basename(resultKey)), manifest: path.join(dir, 'job.json') };
  await writeFileAtomic(files.result, result.body);
  await writeFileAtomic(files.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return { resultKey, ...files };
}
