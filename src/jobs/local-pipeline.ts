/**
 * The local embedded mode: the embedded S3 server, its events in S3's shape (same prefix filters as the
 * bucket notification in AWS), and the same handler the Lambda runs. Events queue up and run a few at a
 * time (the engine uses every core, so one at a time by default). A transient failure is retried twice,
 * a minute apart in AWS, here after 1 and 2 seconds, then reported as dead-lettered.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import type { VggWeights } from '../engine/types.js';
import { SERVICE_NAME } from '../product.js';
import { type LocalS3, startLocalS3 } from '../storage/local-s3.js';
import type { ObjectStore } from '../storage/object-store.js';
import { type PipelineConfig, readPipelineConfig } from './config.js';
import { handleEvent } from './handler.js';
import { TRIGGER_PREFIXES } from './keys.js';
import type { JobOutcome } from './locked-job.js';
import { LocalNotifier, type Notifier } from './notifier.js';
import { buildPipelineDeps, type PipelineDeps } from './pipeline-deps.js';

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
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const deps = localPipelineDeps(opts, s3.client, write);
  const queue = new EventQueue(Math.max(1, opts.concurrency ?? 1), (event) =>
    handleWithRetries(deps, event, write, opts.onSettled),
  );
  const unsubscribe = s3.onObjectCreated((event) => queue.push(event));
  return {
    s3,
    store: deps.storeFor(opts.bucket),
    endpoint: s3.endpoint,
    bucket: opts.bucket,
    idle: () => queue.idle(),
    /**
     * Stops taking events, lets running jobs finish (closing S3 under them would leave them `running` with a
     * held lock that nothing replays locally), then stops the server. Events not yet started are dropped.
     */
    async close() {
      unsubscribe();
      await queue.stop();
      await s3.close();
    },
  };
}

/** The Lambda's dependencies, on the embedded server, with local notifications and no hand-offs. */
function localPipelineDeps(opts: LocalPipelineOptions, s3: S3Client, write: (line: string) => void) {
  const config = { ...readPipelineConfig(), ...opts.config };
  return buildPipelineDeps({
    config,
    worker: 'local',
    s3,
    logger: new Logger({ serviceName: SERVICE_NAME, logLevel: opts.logLevel ?? 'WARN' }),
    loadWeights: opts.loadWeights,
    notifier:
      opts.notifier ??
      new LocalNotifier({
        webhookUrl: config.webhookUrl,
        write,
        onWebhookError: (e) => write(`nst: webhook ${config.webhookUrl} failed: ${e.message}`),
      }),
    createEngine: opts.createEngine,
    onProgress: opts.onProgress,
  });
}

/** Runs the handler on one event like Lambda's asynchronous invocation: retried, then dead-lettered. */
async function handleWithRetries(
  deps: PipelineDeps,
  event: S3Event,
  write: (line: string) => void,
  onSettled: LocalPipelineOptions['onSettled'],
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const outcomes = await handleEvent(deps, { owner: `local-${process.pid}-${randomUUID()}` }, event);
      onSettled?.({ event, outcomes });
      return;
    } catch (error) {
      if (attempt >= RETRY_DELAYS_MS.length) {
        const keys = event.Records.map((r) => r.s3.object.key).join(', ');
        write(`nst: event for ${keys} dead-lettered: ${(error as Error).message}`);
        onSettled?.({ event, error });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
    }
  }
}

/** Events in arrival order, `concurrency` handled at a time. */
class EventQueue {
  private readonly queue: S3Event[] = [];
  private running = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly handle: (event: S3Event) => Promise<void>,
  ) {}

  push(event: S3Event): void {
    this.queue.push(event);
    this.pump();
  }

  /** Resolves once every queued event has been handled. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Drops the events not yet started and waits for the running ones. */
  async stop(): Promise<void> {
    this.queue.length = 0;
    if (this.running > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const event = this.queue.shift()!;
      this.running++;
      void this.handle(event).finally(() => {
        this.running--;
        this.pump();
      });
    }
    if (this.running === 0 && this.queue.length === 0) {
      for (const resolve of this.waiters) resolve();
      this.waiters = [];
    }
  }
}
