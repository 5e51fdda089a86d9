/**
 * What one run works with: the claim (the lock, the bucket, the job's keys), the job's lifecycle (the one
 * writer of job.json) and the worker's dependencies.
 */

import type { Progress, StylizeContext } from '../../engine/stylize.js';
import type { VggWeights } from '../../engine/types.js';
import type { PipelineConfig } from '../config.js';
import type { WorkerKind } from '../deployment.js';
import type { JobClaim, LifecycleDeps } from '../lifecycle/job-claim.js';
import type { JobLifecycle } from '../lifecycle/job-lifecycle.js';
import type { TileWorkersWanted } from './tile-pool.js';

/** Ways to continue a job elsewhere (wiring/dispatch.ts makes them). A failed dispatch is transient. */
export interface Dispatcher {
  /** Submits the job to AWS Batch (absent: Batch is not configured). */
  readonly batch?: (bucket: string, jobId: string) => Promise<{ jobId: string; jobQueue: string }>;
  /** Starts a new invocation that continues the job (absent: no deadlines here). */
  readonly continuation?: (bucket: string, jobId: string) => Promise<void>;
  /** Starts the execution that runs the job's tiled scales (absent: tiles run in the worker itself). */
  readonly tiles?: (bucket: string, jobId: string, run: number) => Promise<{ executionArn: string }>;
}

/** What a worker (the Lambda function, the Batch worker, local mode) gives the pipeline. */
export interface WorkerDeps extends LifecycleDeps {
  readonly config: PipelineConfig;
  readonly loadWeights: () => Promise<VggWeights>;
  readonly dispatch: Dispatcher;
  readonly worker: WorkerKind;
  /** Estimate with the GPU (the Batch worker). */
  readonly gpu?: boolean;
  readonly createEngine?: StylizeContext['createEngine'];
  readonly createTileEngine?: StylizeContext['createTileEngine'];
  /** Tile workers for tiled scales run here (local mode); absent: tiles run in turn on this thread. */
  readonly tileWorkers?: TileWorkersWanted;
  /** Told after every iteration (the local mode shows progress). */
  readonly onProgress?: (jobId: string, progress: Progress) => void;
}

export interface RunContext {
  readonly claim: JobClaim;
  readonly job: JobLifecycle;
  readonly deps: WorkerDeps;
}
