/**
 * The job lock, outputs/<jobId>/lock.json: at most one worker runs a job at a time, and a finished job
 * never runs again, however often S3 delivers its event.
 *
 * Every change is a conditional PutObject: creating the lock is `If-None-Match: *` (exactly one creator
 * wins), and every later change is `If-Match: <etag>` (compare-and-swap: a writer who read an old state
 * loses). S3 has offered both on PutObject since 2024; the local server adds them to s3rver (local-s3.ts).
 *
 * States:
 * - held: a worker runs the job. It renews its lease (a heartbeat); a lease that runs out means the worker
 *   died (crash, out of memory), and the next delivery or retry of the event takes the job over.
 * - handoff: the worker stopped at a deadline or after a transient error and passed the job on (to a
 *   continuation invocation, to Batch, to the steps of its tiles' execution, or to anyone when `to` is
 *   absent). Only that claimant may take it,
 *   until the hand-off lease runs out.
 * - done: the job finished (succeeded or failed); every later event is a duplicate.
 *
 * Fencing: a worker whose lease lapsed (its event loop blocked in a long evaluation, say) may find the job
 * taken over. Before each write only the holder may make (result, job.json, checkpoints, frames) it calls
 * fence(), which renews the lease by compare-and-swap on the lock's ETag: if that fails the lock is someone
 * else's and the worker stops with ABORTED, having written nothing. A successful renewal gives the writer
 * a full lease in which nobody may take the job over.
 */
import { NstError } from '../../errors.js';
import { type ObjectStore, PreconditionFailed } from '../../storage/object-store.js';

export type Claimant = 'event' | 'continuation' | 'batch' | 'tiles';

/** Who a hand-off passes the job to. */
export type HandOffTo = Exclude<Claimant, 'event'>;

export interface LockRecord {
  readonly jobId: string;
  readonly state: 'held' | 'handoff' | 'done';
  readonly owner: string;
  readonly leaseExpiresAt: string;
  readonly to?: HandOffTo;
  readonly updatedAt: string;
}

export interface LockOptions {
  readonly jobId: string;
  readonly key: string;
  /** Who asks: an invocation id. */
  readonly owner: string;
  readonly claimant: Claimant;
  readonly leaseSeconds: number;
  /** How long a continuation or Batch worker waits for the previous holder to hand the job over. */
  readonly waitSeconds?: number;
  readonly now?: () => Date;
}

export type Acquired =
  | { readonly acquired: true; readonly lock: JobLock }
  | {
      readonly acquired: false;
      readonly reason: 'finished' | 'running' | 'handed-off';
      readonly record: LockRecord;
    };

const expired = (record: LockRecord, now: Date) => Date.parse(record.leaseExpiresAt) <= now.getTime();

function claimable(record: LockRecord, claimant: Claimant, now: Date): boolean {
  if (record.state === 'done') return false;
  if (record.state === 'held') return expired(record, now);
  return record.to === undefined || record.to === claimant || expired(record, now);
}

const takenOver = () =>
  new NstError('ABORTED', 'the job lock was taken over by another worker: this worker writes nothing');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function acquireLock(store: ObjectStore, opts: LockOptions): Promise<Acquired> {
  const now = opts.now ?? (() => new Date());
  const give = () => ({
    jobId: opts.jobId,
    state: 'held' as const,
    owner: opts.owner,
    leaseExpiresAt: new Date(now().getTime() + opts.leaseSeconds * 1000).toISOString(),
    updatedAt: now().toISOString(),
  });
  const waitUntil = now().getTime() + (opts.waitSeconds ?? 0) * 1000;
  for (;;) {
    try {
      const record = give();
      const etag = await store.putJson(opts.key, record, { ifNoneMatch: '*' });
      return { acquired: true, lock: new JobLock(store, opts, record, etag) };
    } catch (e) {
      if (!(e instanceof PreconditionFailed)) throw e;
    }
    const current = await store.getJson<LockRecord>(opts.key);
    if (!current) continue; // deleted in between: create it again
    if (claimable(current.value, opts.claimant, now())) {
      try {
        const record = give();
        const etag = await store.putJson(opts.key, record, { ifMatch: current.etag });
        return { acquired: true, lock: new JobLock(store, opts, record, etag) };
      } catch (e) {
        if (!(e instanceof PreconditionFailed)) throw e;
        continue; // someone else changed it first: look again
      }
    }
    // A continuation can start before its predecessor has handed over: wait for the hand-off or the lease.
    if (current.value.state === 'held' && now().getTime() < waitUntil) {
      await sleep(1000);
      continue;
    }
    const reason =
      current.value.state === 'done' ? 'finished' : current.value.state === 'held' ? 'running' : 'handed-off';
    return { acquired: false, reason, record: current.value };
  }
}

/** A held lock. Changes are serialised and compare-and-swap on the last ETag this holder wrote. */
export class JobLock {
  private chain: Promise<unknown> = Promise.resolve();
  private heartbeat?: NodeJS.Timeout;
  private ended = false;
  private onLost?: (reason: NstError) => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: LockOptions,
    private record: LockRecord,
    private etag: string,
  ) {}

  get state(): LockRecord {
    return this.record;
  }

  /**
   * Renews the lease every third of it until the lock is handed off or done. `onLost` is told when the
   * lock was taken over (someone else runs the job now) or could not be renewed before the lease ran out.
   */
  keepAlive(onLost: (reason: NstError) => void): void {
    this.onLost = onLost;
    const period = (this.opts.leaseSeconds * 1000) / 3;
    this.heartbeat = setInterval(() => {
      this.write('held').catch((e: unknown) => {
        if (this.ended) return;
        if (e instanceof PreconditionFailed) {
          onLost(takenOver());
        } else if (expired(this.record, this.now())) {
          onLost(
            new NstError(
              'STORAGE_UNAVAILABLE',
              `the job lock could not be renewed: ${(e as Error).message}`,
              { cause: e },
            ),
          );
        }
      });
    }, period);
    this.heartbeat.unref();
  }

  /**
   * Renews the lease now, by compare-and-swap on the lock's ETag; throws ABORTED (and tells `onLost`) when
   * the lock is no longer this worker's. Call immediately before every write only the holder may make.
   */
  async fence(): Promise<void> {
    if (this.ended) throw new NstError('ABORTED', 'the job lock was already given up: nothing written');
    try {
      await this.write('held');
    } catch (e) {
      if (!(e instanceof PreconditionFailed)) throw e;
      const lost = takenOver();
      this.onLost?.(lost);
      throw lost;
    }
  }

  /** Passes the job on; `to` undefined lets anyone take it over at once (after a transient failure). */
  handOff(to: HandOffTo | undefined, leaseSeconds: number): Promise<void> {
    return this.end(() => this.write('handoff', to, leaseSeconds));
  }

  /** Marks the job finished: later events are duplicates. */
  complete(): Promise<void> {
    return this.end(() => this.write('done'));
  }

  /** Stops the heartbeat (the lease then runs out unless the lock was handed off or completed). */
  stop(): void {
    clearInterval(this.heartbeat);
    this.ended = true;
  }

  private async end(last: () => Promise<void>): Promise<void> {
    this.stop();
    await last();
  }

  private now(): Date {
    return (this.opts.now ?? (() => new Date()))();
  }

  private write(
    state: LockRecord['state'],
    to?: LockRecord['to'],
    leaseSeconds = this.opts.leaseSeconds,
  ): Promise<void> {
    const run = this.chain.then(async () => {
      const now = this.now();
      const record: LockRecord = {
        jobId: this.opts.jobId,
        state,
        owner: this.opts.owner,
        leaseExpiresAt: new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
        ...(to ? { to } : {}),
        updatedAt: now.toISOString(),
      };
      this.etag = await this.store.putJson(this.opts.key, record, { ifMatch: this.etag });
      this.record = record;
    });
    this.chain = run.catch(() => {});
    return run;
  }
}
