/**
 * The local embedded mode: the embedded S3 server, its events in S3's shape (same prefix filters as the
 * bucket notification in AWS), and the same handler the Lambda runs. Events queue up and run a few at a
 * time (the engine uses every core, so one at a time by default). A transient failure is retried twice,
 * a minute apart in AWS, here after 1 and 2 seconds, then reported as dead-lettered.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { S3Event } from 'aws-lambda';
import type { VggWeights } from '../engine/types.js';
import { type LocalS3, startLocalS3 } from '../storage/local-s3.js';
import { ObjectStore } from '../storage/object-store.js';
import { type PipelineConfig, readPipelineConfig } from './config.js';
import { handleEvent } from './handler.js';
import { TRIGGER_PREFIXES } from './keys.js';
import type { JobOutcome } from './locked-job.js';
import { LocalNotifier, type Notifier } from './notifier.js';
import type { PipelineDeps } from './pipeline-deps.js';

export interface LocalPipelineOptions {
  readonly dataDir: string;
  readonly bucket: string;
  /** 0: any free port. */
  readonly port?: number;
  readonly loadWeights: () => Promise<VggWeights>;
  /** Overrides of the configuration read from the environment (NST_*). */
  readonly config?: Partial<PipelineConfig>;
  readonly notifier?: Notifier;
  /** Where the notifier's lines go (default stderr). */
  readonly write?: (line: string) => void;
  readonly logLevel?: LogLevel;
  /** Jobs run at once (default 1). */
  readonly concurrency?: number;
  readonly createEngine?: PipelineDeps['createEngine'];
  readonly onProgress?: PipelineDeps['onProgress'];
  /** Told about every finished event, with its outcomes or the error that dead-lettered it. */
  readonly onSettled?: (result: { event: S3Event; outcomes?: JobOutcome[]; error?: unknown }) => void;
}

export interface LocalPipeline {
  readonly s3: LocalS3;
  readonly store: ObjectStore;
  readonly endpoint: string;
  readonly bucket: string;
  /** Resolves once every queued event has been handled. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const RETRY_DELAYS_MS = [1000, 2000];

export async function startLocalPipeline(opts: LocalPipelineOptions): Promise<LocalPipeline> {
  const s3 = await startLocalS3({
    dataDir: opts.dataDir,
    bucket: opts.bucket,
    port: opts.port,
    eventPrefixes: TRIGGER_PREFIXES,
  });
  const store = new ObjectStore(s3.client, opts.bucket);
  const config = { ...readPipelineConfig(), ...opts.config };
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const logger = new Logger({ serviceName: 'serverless-style-transfer', logLevel: opts.logLevel ?? 'WARN' });
  const deps: PipelineDeps = {
    config,
    storeFor: (bucket) => new ObjectStore(s3.client, bucket),
    loadWeights: opts.loadWeights,
    notifier:
      opts.notifier ??
      new LocalNotifier({
        webhookUrl: config.webhookUrl,
        write,
        onWebhookError: (e) => write(`nst: webhook ${config.webhookUrl} failed: ${e.message}`),
      }),
    logger,
    dispatch: {},
    worker: 'local',
    createEngine: opts.createEngine,
    onProgress: opts.onProgress,
  };

  const queue: S3Event[] = [];
  let running = 0;
  let waiters: (() => void)[] = [];
  const concurrency = Math.max(1, opts.concurrency ?? 1);

  const handle = async (event: S3Event) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await handleEvent(deps, { owner: `local-${process.pid}-${randomUUID()}` }, event);
        opts.onSettled?.({ event, outcomes });
        return;
      } catch (error) {
        if (attempt >= RETRY_DELAYS_MS.length) {
          write(
            `nst: event for ${event.Records.map((r) => r.s3.object.key).join(', ')} dead-lettered: ${(error as Error).message}`,
          );
          opts.onSettled?.({ event, error });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
      }
    }
  };
  const pump = () => {
    while (running < concurrency && queue.length > 0) {
      const event = queue.shift()!;
      running++;
      void handle(event).finally(() => {
        running--;
        pump();
      });
    }
    if (running === 0 && queue.length === 0) {
      for (const resolve of waiters) resolve();
      waiters = [];
    }
  };
  const unsubscribe = s3.onObjectCreated((event) => {
    queue.push(event);
    pump();
  });

  return {
    s3,
    store,
    endpoint: s3.endpoint,
    bucket: opts.bucket,
    idle: () =>
      running === 0 && queue.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push(resolve)),
    /**
     * Stops taking events, lets running jobs finish (closing S3 under them would leave them `running` with a
     * held lock that nothing replays locally), then stops the server. Events not yet started are dropped.
     */
    async close() {
      unsubscribe();
      queue.length = 0;
      if (running > 0) await new Promise<void>((resolve) => waiters.push(resolve));
      await s3.close();
    },
  };
}
