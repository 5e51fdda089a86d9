/** The sweeper's decisions: what it does with each manifest and lock state, and which job.json it reads. */
import { describe, expect, it } from 'vitest';
import { PIPELINE_DEFAULTS, readPipelineConfig } from '../../../../src/jobs/config.js';
import type { LockRecord } from '../../../../src/jobs/lifecycle/lock.js';
import { type JobManifest, newManifest, transition } from '../../../../src/jobs/lifecycle/manifest.js';
import {
  decideSweep,
  type SweepFacts,
  sweepBudgets,
  sweepCandidates,
} from '../../../../src/jobs/recovery/sweep-decision.js';
import type { JobSpec } from '../../../../src/jobs/spec/spec.js';

const T0 = new Date('2025-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const SPEC = {
  content: 'inputs/a/p.jpg',
  styles: [{ key: 'styles/a.png', weight: 1 }],
} as unknown as JobSpec;

function manifest(status: JobManifest['status'], changes: Partial<JobManifest> = {}): JobManifest {
  const queued = newManifest('job-1', 'b', { key: 'inputs/a/p.jpg', kind: 'drop-in', etag: '"e"' }, T0);
  return status === 'queued' ? { ...queued, ...changes } : transition(queued, status, T0, 'run', changes);
}

const lock = (
  state: LockRecord['state'],
  leaseEndsAt: number,
  changes: Partial<LockRecord> = {},
): LockRecord => ({
  jobId: 'job-1',
  state,
  owner: 'dead-worker',
  leaseExpiresAt: at(leaseEndsAt).toISOString(),
  updatedAt: at(leaseEndsAt - 45).toISOString(),
  ...changes,
});

/** The budgets of the stack's defaults. */
const DEFAULT_BUDGETS = sweepBudgets(PIPELINE_DEFAULTS);

const facts = (changes: Partial<SweepFacts>): SweepFacts => ({
  manifest: manifest('running'),
  lock: lock('held', 45),
  now: at(3600),
  where: 'aws',
  canResume: true,
  maxContinuations: 4,
  budgets: DEFAULT_BUDGETS,
  ...changes,
});

const CHECKPOINT = { scaleIndex: 1, iteration: 7, savedAt: T0.toISOString() };

describe('decideSweep', () => {
  it('leaves finished jobs, done locks, valid leases and live local workers alone', () => {
    expect(decideSweep(facts({ manifest: manifest('succeeded') }))).toEqual({
      action: 'leave',
      reason: 'finished',
    });
    expect(decideSweep(facts({ manifest: manifest('failed') }))).toMatchObject({ action: 'leave' });
    expect(decideSweep(facts({ lock: lock('done', 45) }))).toMatchObject({
      action: 'leave',
      reason: 'its lock is done',
    });
    expect(decideSweep(facts({ lock: lock('held', 3700) }))).toMatchObject({
      action: 'leave',
      reason: expect.stringContaining('its lease runs until'),
    });
    // A hand-off to Batch holds for hours: Batch ends its own jobs.
    expect(decideSweep(facts({ lock: lock('handoff', 6 * 3600, { to: 'batch' }) }))).toMatchObject({
      action: 'leave',
    });
    expect(decideSweep(facts({ where: 'local', isLive: (owner) => owner === 'dead-worker' }))).toEqual({
      action: 'leave',
      reason: 'a live worker of this server holds it',
    });
  });

  it('fails a stale job without a checkpoint: lease lapsed and time budget run out', () => {
    const decision = decideSweep(facts({}));
    expect(decision).toMatchObject({ action: 'fail' });
    expect(decision.action === 'fail' && decision.message).toBe(
      'its worker stopped: no sign of it since 2025-01-01T00:00:00.000Z (status running, in Lambda); ' +
        'abandoned by the sweeper, no checkpoint to resume from',
    );
    // A released lock (a transient failure's hand-off to anyone) is as good as lapsed.
    expect(decideSweep(facts({ lock: lock('handoff', 0) }))).toMatchObject({ action: 'fail' });
    // No lock at all (never written, or lost): the time budget alone decides.
    expect(decideSweep(facts({ lock: undefined }))).toMatchObject({ action: 'fail' });
    expect(decideSweep(facts({ manifest: manifest('queued'), lock: undefined }))).toMatchObject({
      action: 'fail',
    });
  });

  it('waits out the time budget after the last sign of life: a lapsed lease alone is not death in AWS', () => {
    const budget = DEFAULT_BUDGETS.lambda;
    expect(budget).toBeGreaterThan(PIPELINE_DEFAULTS.functionTimeoutSeconds);
    // The last heartbeat (lock.updatedAt) at 0 s; the lease lapsed at 45 s.
    const heartbeat = lock('held', 45, { updatedAt: at(0).toISOString() });
    expect(decideSweep(facts({ lock: heartbeat, now: at(budget - 1) }))).toMatchObject({
      action: 'leave',
      reason: `within its time budget (${budget - 1} of ${budget} s)`,
    });
    expect(decideSweep(facts({ lock: heartbeat, now: at(budget) }))).toMatchObject({ action: 'fail' });
    // A later heartbeat is a later sign of life.
    const later = lock('held', 645, { updatedAt: at(600).toISOString() });
    expect(decideSweep(facts({ lock: later, now: at(budget) }))).toMatchObject({ action: 'leave' });
    // Locally the server knows its own workers: a lapsed lease of anyone else's is enough.
    expect(
      decideSweep(facts({ lock: heartbeat, now: at(46), where: 'local', isLive: () => false })),
    ).toMatchObject({
      action: 'fail',
      message: expect.stringContaining('(status running, locally)'),
    });
  });

  it('gives a job sent to AWS Batch the Batch budget (each attempt: the RUNNABLE limit + the timeout)', () => {
    const onBatch = manifest('queued', { batch: { jobId: 'bj-1', jobQueue: 'q' } });
    const budget = DEFAULT_BUDGETS.batch;
    expect(budget).toBeGreaterThan(3 * (240 * 60 + 3600));
    const lapsed = lock('handoff', 1, { to: 'batch', updatedAt: T0.toISOString() });
    expect(decideSweep(facts({ manifest: onBatch, lock: lapsed, now: at(budget - 60) }))).toMatchObject({
      action: 'leave',
    });
    expect(decideSweep(facts({ manifest: onBatch, lock: lapsed, now: at(budget) }))).toMatchObject({
      action: 'fail',
      message: expect.stringContaining('on AWS Batch (bj-1)'),
    });
  });

  it("reads the budgets from the deployment's configuration: a 24-hour Batch job is not swept while Batch may hold it", () => {
    // The stack accepts a 1440-minute job timeout and a 86400 s RUNNABLE limit; it tells the function both.
    const config = readPipelineConfig({
      NST_FUNCTION_TIMEOUT_SECONDS: '600',
      NST_BATCH_TIMEOUT_SECONDS: String(24 * 3600),
      NST_BATCH_RUNNABLE_TIMEOUT_SECONDS: String(24 * 3600),
    });
    const budgets = sweepBudgets(config);
    expect(budgets.lambda).toBe(600 + 300);
    const onBatch = manifest('running', { batch: { jobId: 'bj-2', jobQueue: 'q' } });
    const lapsed = lock('handoff', 1, { to: 'batch', updatedAt: T0.toISOString() });
    // Waited a day RUNNABLE, then ran 20 hours: Batch still holds it, and so does its first attempt.
    const holding = at(44 * 3600);
    expect(decideSweep(facts({ manifest: onBatch, lock: lapsed, now: holding, budgets }))).toMatchObject({
      action: 'leave',
    });
    // The defaults would have swept it long before (the bug: 240 minutes assumed).
    expect(decideSweep(facts({ manifest: onBatch, lock: lapsed, now: holding }))).toMatchObject({
      action: 'fail',
    });
    // Every attempt waited and ran out, and the margin passed: now it is dead.
    expect(
      decideSweep(facts({ manifest: onBatch, lock: lapsed, now: at(3 * 48 * 3600 + 600), budgets })),
    ).toMatchObject({ action: 'fail', message: expect.stringContaining('on AWS Batch (bj-2)') });
  });

  it('resumes a stale job from its checkpoint, unless it cannot or its continuations are used up', () => {
    const resumable = manifest('queued', { spec: SPEC, checkpoint: CHECKPOINT, continuations: 1 });
    expect(decideSweep(facts({ manifest: resumable }))).toEqual({
      action: 'resume',
      detail:
        'its worker stopped: no sign of it since 2025-01-01T00:00:00.000Z (status queued, in Lambda); ' +
        'resumes from its checkpoint at scale 2, iteration 7',
    });
    expect(decideSweep(facts({ manifest: resumable, canResume: false }))).toMatchObject({
      action: 'fail',
      message: expect.stringContaining('its checkpoint cannot be resumed here'),
    });
    expect(decideSweep(facts({ manifest: { ...resumable, continuations: 4 } }))).toMatchObject({
      action: 'fail',
      message: expect.stringContaining('its checkpoint was not resumed: 4 continuations already'),
    });
  });
});

describe('sweepCandidates', () => {
  const object = (key: string, seconds: number) => ({ key, lastModified: at(seconds) });

  it('reads job.json files older than the cutoff, newest first, skipping succeeded jobs, at most max', () => {
    const objects = [
      object('outputs/done/result.jpg', 10),
      object('outputs/done/job.json', 11),
      object('outputs/done/lock.json', 12),
      // The worker died between the result and job.json: still a candidate.
      object('outputs/half/job.json', 20),
      object('outputs/half/result.png', 30),
      object('outputs/old/job.json', 5),
      object('outputs/old/frames/00001.jpg', 4),
      object('outputs/new/job.json', 40),
      object('outputs/recent/job.json', 100),
      object('outputs/lock-only/lock.json', 1),
      object('outputs/nested/x/job.json', 1),
    ];
    expect(sweepCandidates(objects, at(50), 10)).toEqual(['new', 'half', 'old']);
    expect(sweepCandidates(objects, at(50), 2)).toEqual(['new', 'half']);
    expect(sweepCandidates(objects, at(100), 10)).toEqual(['recent', 'new', 'half', 'old']);
  });

  it('reads the newest half every sweep and walks the older ones a window per turn, so none is starved', () => {
    const objects = Array.from({ length: 10 }, (_, i) => object(`outputs/j${i}/job.json`, 100 - i));
    const windows = [0, 1, 2, 3].map((turn) => sweepCandidates(objects, at(200), 4, turn));
    for (const w of windows) expect(w.slice(0, 2)).toEqual(['j0', 'j1']);
    expect(windows.map((w) => w.slice(2))).toEqual([
      ['j2', 'j3'],
      ['j4', 'j5'],
      ['j6', 'j7'],
      ['j8', 'j9'],
    ]);
    expect(sweepCandidates(objects, at(200), 4, 4).slice(2)).toEqual(['j2', 'j3']);
  });
});
