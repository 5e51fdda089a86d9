/**
 * The local embedded mode: the embedded S3 server, its events in S3's shape (same prefix filters as the
 * bucket notification in AWS), and the same handler the Lambda runs. Events queue up and run a few at a
 * time (the engine uses every core, so one at a time by default). A transient failure is retried twice,
 * a minute apart in AWS, here after 1 and 2 seconds; then the event is dead-lettered, and its dead letter
 * handled at once as the Lambda handles its queue's (the job ends `failed`, JOB_ABANDONED).
 *
 * The sweeper (recovery/sweeper.ts) runs at start-up and on a timer, so a job left `queued` or `running` by a server
 * that was killed ends (resumed from its checkpoint as a continuation on the queue, or failed) after a
 * restart. Jobs this server's own workers hold are never swept: each event's lock owner is known here.
 * Uploads whose events a killed server never ran are replayed once at start-up (replay.ts).
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { S3Client } from '@aws-sdk/client-s3';
import type { VggWeights } from '../../engine/types.js';
import { SERVICE_NAME } from '../../product.js';
import { type LocalS3, startLocalS3 } from '../../storage/local-s3.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { type PipelineConfig, readPipelineConfig } from '../config.js';
import { deadLetterFor } from '../intake/events.js';
import { handleEvent } from '../intake/handler.js';
import type { JobOutcome } from '../lifecycle/locked-job.js';
import { LocalNotifier } from '../notify/local.js';
import type { Notifier } from '../notify/notifier.js';
import { unhandledUploads } from '../recovery/replay.js';
import { sweepJobs } from '../recovery/sweeper.js';
import type { WorkerDeps } from '../run/run-context.js';
import { TRIGGER_PREFIXES } from '../spec/keys.js';
import { buildWorkerDeps } from '../wiring/build-deps.js';
import type { ContinuationEvent } from '../wiring/dispatch.js';

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
  /** Tile workers of each job's tiled scales (`--workers`; default 'auto'). */
  readonly tileWorkers?: WorkerDeps['tileWorkers'];
  readonly createEngine?: WorkerDeps['createEngine'];
  readonly onProgress?: WorkerDeps['onProgress'];
  /** Told about every finished event (S3 or continuation), with its outcomes or the error that dead-lettered it. */
  readonly onSettled?: (result: { event: unknown; outcomes?: JobOutcome[]; error?: unknown }) => void;
  /** How often the sweeper runs after the start-up sweep (default 60 s; 0: only at start-up). */
  readonly sweepIntervalMs?: number;
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

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export async function startLocalPipeline(opts: LocalPipelineOptions): Promise<LocalPipeline> {
  const config = { ...readPipelineConfig(), ...opts.config };
  const s3 = await startLocalS3({
    dataDir: opts.dataDir,
    bucket: opts.bucket,
    port: opts.port,
    eventPrefixes: TRIGGER_PREFIXES.map((prefix) => `${config.keyPrefix}${prefix}`),
  });
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Lock owners of the events this server is handling (retries included): live workers, never swept.
  const live = new Set<string>();
  const queue = new EventQueue(Math.max(1, opts.concurrency ?? 1), (event) =>
    handleWithRetries(deps, event, { live, write, onSettled: opts.onSettled }),
  );
  // A swept job resumes from its checkpoint as a continuation on the queue, as in Lambda.
  const continuation = async (bucket: string, jobId: string) => {
    queue.push({ nstContinuation: { bucket, jobId } } satisfies ContinuationEvent);
  };
  const deps = localWorkerDeps(opts, config, s3.client, write, continuation);
  const sweeper = new LocalSweeper(deps, opts.bucket, live, write);
  await sweeper.sweep();
  const unsubscribe = s3.onObjectCreated((event) => queue.push(event));
  await replayUnhandledUploads(deps.storeFor(opts.bucket), queue, write);
  sweeper.every(opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
  return {
    s3,
    store: deps.storeFor(opts.bucket),
    endpoint: s3.endpoint,
    bucket: opts.bucket,
    idle: () => queue.idle(),
    /**
     * Stops taking events, lets running jobs finish (closing S3 under them would leave them `running` with a
     * held lock until the next start-up sweep), then stops the server. Events not yet started are dropped.
     */
    async close() {
      unsubscribe();
      await sweeper.stop();
      await queue.stop();
      await s3.close();
    },
  };
}

/** Queues the uploads a previous server never ran (replay.ts), after this server listens for new ones. */
async function replayUnhandledUploads(store: ObjectStore, queue: EventQueue, write: (line: string) => void) {
  const events = await unhandledUploads(store);
  if (events.length > 0)
    write(`nst: ${events.length} upload(s) without a job from an earlier run: running them`);
  for (const event of events) queue.push(event);
}

/** The sweep at start-up and every `intervalMs`, one at a time. */
class LocalSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** One owner for this process's sweeps: a job it resumed is its own, and never swept again here. */
  private readonly owner = `local-sweep-${randomUUID()}`;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly bucket: string,
    private readonly live: ReadonlySet<string>,
    private readonly write: (line: string) => void,
  ) {}

  sweep(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  every(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => void this.sweep(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async run(): Promise<void> {
    try {
      const outcomes = await sweepJobs(this.deps, { owner: this.owner }, this.bucket, {
        isLive: (owner) => owner === this.owner || this.live.has(owner),
      });
      for (const o of outcomes)
        if (o.status === 'queued')
          this.write(`nst: job ${o.jobId}: its worker stopped; resumes from its checkpoint`);
    } catch (e) {
      this.write(`nst: sweep failed: ${(e as Error).message}`);
    }
  }
}

/**
 * Each job's tile workers: as asked, but 'auto' is one (tiles in turn) when jobs run concurrently. Each
 * job would otherwise size its pool from the same free memory, and the jobs already share the cores.
 */
export function tileWorkersOfEachJob(
  opts: Pick<LocalPipelineOptions, 'concurrency' | 'tileWorkers'>,
): WorkerDeps['tileWorkers'] {
  const wanted = opts.tileWorkers ?? 'auto';
  return wanted === 'auto' && (opts.concurrency ?? 1) > 1 ? 1 : wanted;
}

/** The Lambda's dependencies, on the embedded server, with local notifications and no hand-offs. */
function localWorkerDeps(
  opts: LocalPipelineOptions,
  config: PipelineConfig,
  s3: S3Client,
  write: (line: string) => void,
  continuation: NonNullable<WorkerDeps['dispatch']['continuation']>,
) {
  return buildWorkerDeps({
    config,
    worker: 'local',
    s3,
    logger: new Logger({ serviceName: SERVICE_NAME, logLevel: opts.logLevel ?? 'WARN' }),
    loadWeights: opts.loadWeights,
    notifier:
      opts.notifier ??
      new LocalNotifier({
        webhookUrl: config.webhookUrl,
        eventsWebhookUrl: config.eventsWebhookUrl,
        write,
        onWebhookError: (url, e) => write(`nst: webhook ${url} failed: ${e.message}`),
      }),
    createEngine: opts.createEngine,
    tileWorkers: tileWorkersOfEachJob(opts),
    onProgress: opts.onProgress,
    dispatch: { continuation },
  });
}

/**
 * Runs the handler on one event like Lambda's asynchronous invocation: retried, then dead-lettered, and the
 * dead letter handled at once (its jobs end `failed`, JOB_ABANDONED). One lock owner for all attempts, live
 * (never swept) until the event is settled.
 */
async function handleWithRetries(
  deps: WorkerDeps,
  event: unknown,
  ctx: {
    live: Set<string>;
    write: (line: string) => void;
    onSettled: LocalPipelineOptions['onSettled'];
  },
): Promise<void> {
  const owner = `local-${process.pid}-${randomUUID()}`;
  ctx.live.add(owner);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const outcomes = await handleEvent(deps, { owner }, event);
        ctx.onSettled?.({ event, outcomes });
        return;
      } catch (error) {
        if (attempt >= RETRY_DELAYS_MS.length) {
          ctx.write(`nst: event for ${describeEvent(event)} dead-lettered: ${(error as Error).message}`);
          await handleDeadLetter(deps, owner, event, error, ctx.write);
          ctx.onSettled?.({ event, error });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
      }
    }
  } finally {
    ctx.live.delete(owner);
  }
}

async function handleDeadLetter(
  deps: WorkerDeps,
  owner: string,
  event: unknown,
  error: unknown,
  write: (line: string) => void,
): Promise<void> {
  const { code, message } = error as { code?: string; message: string };
  try {
    await handleEvent(deps, { owner }, deadLetterFor(event, { code, message: String(message) }));
  } catch (e) {
    write(
      `nst: the dead letter for ${describeEvent(event)} failed too (the next sweep ends it): ${(e as Error).message}`,
    );
  }
}

function describeEvent(event: unknown): string {
  const records = (event as { Records?: { s3?: { object?: { key?: string } } }[] }).Records;
  if (records) return records.map((r) => r.s3?.object?.key).join(', ');
  const jobId = (event as ContinuationEvent).nstContinuation?.jobId;
  return jobId ? `job ${jobId}` : 'an event';
}

/** Events in arrival order, `concurrency` handled at a time. */
class EventQueue {
  private readonly queue: unknown[] = [];
  private running = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly handle: (event: unknown) => Promise<void>,
  ) {}

  push(event: unknown): void {
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
