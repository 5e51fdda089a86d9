/**
 * `nst serve` and `nst submit`: their flags and help. What they do is in src/cli/serve.ts, loaded when they
 * run.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PRESIGN_SECONDS } from '../../storage/presign-limits.js';
import { WEIGHTS_FLAG_HELP } from '../../weights/lookup.js';
import { addStylizeOptionFlags, pickStylizeOptions } from '../stylize-flags.js';
import {
  AWS_FLAG_HELP,
  BUCKET_FLAG_HELP,
  DEFAULT_BUCKET,
  DEFAULT_PORT,
  ENDPOINT_FLAG_HELP,
  type PipelineLocationFlags,
  PREFIX_FLAG_HELP,
  type S3TargetFlags,
} from './s3-flags.js';
import { TILE_WORKERS_HELP } from './stylize.js';

const DEFAULT_DATA_DIR = path.join('.nst', 's3');

export interface ServeFlags extends PipelineLocationFlags {
  port: string;
  data: string;
  weights?: string;
  webhook?: string;
  eventsWebhook?: string;
  concurrency: string;
  workers?: string;
}

export interface SubmitFlags extends Record<string, unknown>, S3TargetFlags, PipelineLocationFlags {
  style: string;
  format?: string;
  quality?: number;
  wait?: boolean;
  out: string;
  presign?: boolean;
  expires?: string;
}

export function registerPipelineCommands(program: Command): void {
  program
    .command('serve')
    .description(
      'Run the pipeline locally: an embedded S3 server; photos dropped into it are stylised like in AWS',
    )
    .option('--port <n>', 'port on 127.0.0.1', String(DEFAULT_PORT))
    .option('--data <dir>', "the S3 server's data folder", DEFAULT_DATA_DIR)
    .option('--bucket <name>', BUCKET_FLAG_HELP, DEFAULT_BUCKET)
    .option('--prefix <folder>', PREFIX_FLAG_HELP)
    .option('--weights <dir>', WEIGHTS_FLAG_HELP)
    .option('--webhook <url>', 'POST each job notification (JSON) to this URL (default: $NST_WEBHOOK_URL)')
    .option(
      '--events-webhook <url>',
      "POST each job's events, EventBridge-shaped, to this URL and print them (default: $NST_EVENTS_WEBHOOK_URL)",
    )
    .option('--concurrency <n>', 'jobs run at once (each uses every core)', '1')
    .option('--workers <n|auto>', `${TILE_WORKERS_HELP}; with --concurrency above 1, auto is 1`, 'auto')
    .action(async (flags: ServeFlags) => {
      const { serve } = await import('../serve.js');
      await serve(flags);
    });

  const submit = program
    .command('submit')
    .description('Drop a photo into the pipeline: uploads it to inputs/<style>/ with its options as metadata')
    .argument('<content>', 'the photo to stylise')
    .requiredOption(
      '-s, --style <name|file>',
      'a style in the bucket (styles/<name>.*), or a painting file to upload as one',
    )
    .option('--endpoint <url>', ENDPOINT_FLAG_HELP)
    .option('--aws', AWS_FLAG_HELP)
    .option('--bucket <name>', BUCKET_FLAG_HELP, DEFAULT_BUCKET)
    .option('--prefix <folder>', PREFIX_FLAG_HELP)
    .option('--format <format>', 'output format: jpeg, png, webp, avif or tiff (default: as the photo)')
    .option('--quality <1-100>', 'quality of lossy output formats', (v) => Number(v))
    .option('--wait', 'wait for the job (showing its progress), then download its result and job.json')
    .option('--out <dir>', 'where --wait puts the result and job.json', 'output')
    .option(
      '--presign',
      'upload nothing: print a presigned PUT URL for the photo (JSON: url, headers, jobId) for a client without credentials; the style must be in the bucket',
    )
    .option('--expires <seconds>', 'with --presign: how long the URL works', String(DEFAULT_PRESIGN_SECONDS));
  addStylizeOptionFlags(submit);
  submit.action(async (content: string, flags: SubmitFlags, command: Command) => {
    // Only the options given on the command line travel; the pipeline applies its defaults to the rest.
    const given = Object.fromEntries(
      Object.entries(pickStylizeOptions(flags)).filter(
        ([key]) => command.getOptionValueSource(key) === 'cli',
      ),
    );
    const { submit } = await import('../serve.js');
    await submit(content, flags, given);
  });
}
