/**
 * The deployment's fixed facts: the counts and periods the stack sets on AWS resources and the runtime
 * reasons with (how long to wait before calling a worker dead, how often an event is tried). infra imports
 * them from here; the configurable facts (the function's timeout and memory, the Batch timeout and RUNNABLE
 * limit, the lock lease) travel in the environment instead (config.ts).
 */
import type { PipelineConfig } from './config.js';

/** Lambda's retries of an asynchronous event: the stylize function's `retryAttempts`. */
export const LAMBDA_RETRY_ATTEMPTS = 2;

/**
 * Attempts an asynchronous event gets before it is dead-lettered: the first and Lambda's retries (local
 * mode retries as often).
 */
export const DEAD_LETTER_ATTEMPTS = 1 + LAMBDA_RETRY_ATTEMPTS;

/**
 * Receives of one dead letter before SQS moves it to the poison queue (its redrive policy's
 * maxReceiveCount). At least 5, as AWS advises for SQS event sources: a throttled receive counts too.
 */
export const DEAD_LETTER_RECEIVE_COUNT = 5;

/** Attempts of one AWS Batch job: the job definition's retryAttempts. */
export const BATCH_JOB_ATTEMPTS = 3;

/** EventBridge's retries of a failed Batch job's event to the function, and the longest it keeps one. */
export const BATCH_EVENT_RETRY_ATTEMPTS = 4;
export const EVENT_MAX_AGE_HOURS = 6;

/** How often the deployed sweep runs (an EventBridge schedule); the sweeper turns its window each time. */
export const SWEEP_PERIOD_MINUTES = 5;

/** EventBridge's retries of a sweep; an older one is superseded by the next sweep. */
export const SWEEP_RETRY_ATTEMPTS = 2;

/**
 * How long a hand-off to a continuation (a new invocation, or the sweeper's resume) waits for its claimant
 * before anyone may take the job over.
 */
export const CONTINUATION_HANDOFF_SECONDS = 120;

/** Beyond the RUNNABLE limit, the time a placed Batch job takes to start (the image pull, the container). */
const BATCH_START_SECONDS = 600;

/**
 * How long a hand-off to AWS Batch waits for the Batch worker: as long as the queue lets the job wait for
 * capacity (its RUNNABLE limit, after which Batch cancels it and the FAILED event ends the job), and its start.
 */
export const batchHandOffSeconds = (config: Pick<PipelineConfig, 'batchRunnableTimeoutSeconds'>): number =>
  config.batchRunnableTimeoutSeconds + BATCH_START_SECONDS;

/**
 * The longest a tiled job's Step Functions execution may run (its TimeoutSeconds): at the largest size,
 * a few scales of several rounds of tile tasks of up to the function's timeout each. It is also the lease
 * of a hand-off to the execution's steps, which no other worker may take meanwhile; an execution that
 * fails, times out or is stopped ends the job through its status-change event (EventBridge).
 */
export const TILES_EXECUTION_TIMEOUT_HOURS = 24;
export const TILES_HANDOFF_SECONDS = TILES_EXECUTION_TIMEOUT_HOURS * 3600;

/** A tile task's timeout beyond the function's own, so the function's timeout surfaces first. */
export const TILE_TASK_TIMEOUT_MARGIN_SECONDS = 60;

/** Step Functions' retries of a step that failed transiently (S3, throttling, Lambda's service errors). */
export const TILE_STEP_RETRY_ATTEMPTS = 4;

/** Where a job runs. */
export const WORKER_KINDS = ['lambda', 'batch', 'local'] as const;
export type WorkerKind = (typeof WORKER_KINDS)[number];
