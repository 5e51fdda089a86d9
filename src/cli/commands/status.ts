/** `nst status`: its flags and help. What it does is in src/cli/status.ts, loaded when it runs. */
import { type Command, Option } from 'commander';
import { JOB_STATUSES, type JobStatus } from '../../jobs/lifecycle/manifest.js';
import {
  AWS_FLAG_HELP,
  BUCKET_FLAG_HELP,
  DEFAULT_BUCKET,
  ENDPOINT_FLAG_HELP,
  type PipelineLocationFlags,
  PREFIX_FLAG_HELP,
  type S3TargetFlags,
} from './s3-flags.js';

const DEFAULT_LIMIT = 20;

export interface StatusFlags extends S3TargetFlags, PipelineLocationFlags {
  list?: boolean;
  status?: JobStatus;
  limit: string;
  json?: boolean;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'Show a pipeline job: its status, progress, route, timings, error and result (or --list the recent ones)',
    )
    .argument(
      '[job]',
      'a job id (as `nst submit` prints it) or the key of its upload (inputs/<style>/<photo> or jobs/<name>.json)',
    )
    .option('--list', 'list the recent jobs, newest first')
    .addOption(new Option('--status <status>', 'with --list: only jobs in this status').choices(JOB_STATUSES))
    .option('--limit <n>', 'with --list: at most this many jobs', String(DEFAULT_LIMIT))
    .option('--json', 'print job.json as stored (with --list: an array of them)')
    .option('--endpoint <url>', ENDPOINT_FLAG_HELP)
    .option('--aws', AWS_FLAG_HELP)
    .option('--bucket <name>', BUCKET_FLAG_HELP, DEFAULT_BUCKET)
    .option('--prefix <folder>', PREFIX_FLAG_HELP)
    .action(async (job: string | undefined, flags: StatusFlags, command: Command) => {
      const listOnly = ['status', 'limit'].some((o) => command.getOptionValueSource(o) === 'cli');
      const { statusCommand } = await import('../status.js');
      process.stdout.write(await statusCommand(job, { ...flags, listOnly }));
    });
}
