/**
 * What `nst status` does (its flags are in commands/status.ts). `nst status <jobId | input key>`: one job of
 * the pipeline as a readable block (status, progress, route, engine, timings, error, result), or its
 * job.json as stored (--json); `nst status --list`: the recent jobs, one line each, newest first. The
 * lookups live in src/client/job-status.ts; this is the presentation.
 */

import { findJob, listJobs } from '../client/job-status.js';
import { NstError } from '../errors.js';
import type { JobManifest, JobProgress, JobStatus } from '../jobs/lifecycle/manifest.js';
import { outputKeys } from '../jobs/spec/keys.js';
import type { StatusFlags } from './commands/status.js';
import { duration, lossText, progressAmount, progressWhere } from './progress-text.js';
import { pipelineStore, s3Target, withS3Target } from './s3-target.js';

/** What the command prints. */
export async function statusCommand(
  job: string | undefined,
  flags: StatusFlags & { listOnly: boolean },
): Promise<string> {
  if (flags.list ? job !== undefined : job === undefined)
    throw new NstError('INVALID_OPTION', 'give a job id or input key, or --list (not both)');
  if (!flags.list && flags.listOnly)
    throw new NstError('INVALID_OPTION', '--status and --limit go with --list');
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new NstError('INVALID_OPTION', `--limit must be a positive integer, got ${flags.limit}`);
  return withS3Target(s3Target(flags), async (client) => {
    const store = pipelineStore(client, flags);
    if (flags.list) {
      const jobs = await listJobs(store, { status: flags.status, limit });
      if (flags.json) return `${JSON.stringify(jobs, null, 2)}\n`;
      return jobs.length === 0 ? '' : `${jobLines(jobs).join('\n')}\n`;
    }
    const manifest = await findJob(store, job!);
    return flags.json
      ? `${JSON.stringify(manifest, null, 2)}\n`
      : `${statusBlock(manifest, new Date(), store.keyPrefix)}\n`;
  });
}

/** The readable block of one job; its keys, relative to the pipeline's `keyPrefix`, as whole URIs. */
export function statusBlock(m: JobManifest, now: Date, keyPrefix = ''): string {
  const uri = (key: string) => `s3://${m.bucket}/${keyPrefix}${key}`;
  const rows: [string, string][] = [];
  const add = (label: string, ...lines: string[]) => {
    lines.forEach((line, i) => {
      rows.push([i ? '' : label, line]);
    });
  };
  if (m.progress) add('progress', ...progressLines(m.progress, m.status, isDone(m) ? undefined : now));
  else if (!isDone(m)) add('progress', 'none yet (written once the first iteration has run)');
  add('source', `${uri(m.source.key)} (${m.source.kind})`);
  if (m.route) add('route', routeText(m));
  const engine = engineText(m);
  if (engine) add('engine', engine);
  add('timings', ...timingLines(m));
  if (m.checkpoint)
    add(
      'checkpoint',
      `scale ${m.checkpoint.scaleIndex + 1}, iteration ${m.checkpoint.iteration} (${m.checkpoint.savedAt})`,
    );
  if (m.error) add('error', `${m.error.code}: ${m.error.message}`);
  if (m.output)
    add(
      'result',
      `${uri(m.output.key)} (${m.output.width}x${m.output.height}, ${kilobytes(m.output.bytes)})`,
    );
  add('job.json', uri(outputKeys(m.jobId).manifest));
  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `job ${m.jobId}: ${m.status}`,
    ...rows.map(([label, text]) => `  ${label.padEnd(width)}  ${text}`),
  ].join('\n');
}

const isDone = (m: JobManifest) => m.status === 'succeeded' || m.status === 'failed';

/** A progress bar in text with how far the job is (and, given now, its age), where it is, the latest loss. */
function progressLines(p: JobProgress, status: JobStatus, now?: Date): string[] {
  const slots = 24;
  const filled = Math.round((p.percent / 100) * slots);
  const age = now
    ? ` (updated ${duration(Math.max(0, (now.getTime() - Date.parse(p.updatedAt)) / 1000))} ago)`
    : '';
  const { total, content, style, tv } = p.loss;
  return [
    `[${'#'.repeat(filled)}${'.'.repeat(slots - filled)}] ${progressAmount(p, status)}${age}`,
    progressWhere(p),
    `loss ${lossText(total)} (content ${lossText(content)}, style ${lossText(style)}, tv ${lossText(tv)})`,
  ];
}

function routeText(m: JobManifest): string {
  const r = m.route!;
  const available = r.availableSeconds === undefined ? '' : ` of ${duration(r.availableSeconds)} available`;
  const batch = m.batch ? `; AWS Batch job ${m.batch.jobId} on ${m.batch.jobQueue}` : '';
  return `${r.worker}, estimated ${duration(r.estimatedSeconds)}${available}${batch}`;
}

function engineText(m: JobManifest): string | undefined {
  if (m.engine) return `${m.engine.kind} (${m.engine.backend})`;
  if (m.route?.engine) return `${m.route.engine} (its backend is recorded when the job succeeds)`;
  return m.spec?.options.engine;
}

function timingLines(m: JobManifest): string[] {
  const t = m.timings;
  const times = [
    `created ${t.createdAt}`,
    ...(t.startedAt ? [`started ${t.startedAt}`] : []),
    ...(t.finishedAt ? [`finished ${t.finishedAt}`] : []),
  ];
  // Phases are added when a run ends: a running job's stylize time is in its progress instead.
  const phases = Object.entries(t.phases)
    .filter(([, seconds]) => seconds > 0)
    .map(([phase, seconds]) => `${phase} ${duration(seconds)}`);
  const runs = m.continuations > 0 ? [`${m.runs} runs, ${m.continuations} continuations`] : [];
  const details = [...phases, ...runs].join(', ');
  return details ? [times.join(', '), details] : [times.join(', ')];
}

/** Recent jobs, one line each: id, status, percent (or result, or error code), source key, created. */
export function jobLines(jobs: readonly JobManifest[]): string[] {
  const cells = jobs.map((m) => [m.jobId, m.status, outcomeText(m), m.source.key, m.timings.createdAt]);
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

function outcomeText(m: JobManifest): string {
  if (m.status === 'succeeded' && m.output) return m.output.key.slice(outputKeys(m.jobId).dir.length);
  if (m.status === 'failed') return m.error?.code ?? 'failed';
  return m.progress ? `${m.progress.percent}%` : '-';
}

const kilobytes = (bytes: number) => `${Math.round(bytes / 100) / 10} kB`;
