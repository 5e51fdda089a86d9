/**
 * The tiles' Step Functions execution as the function sees it: the steps its states invoke, and the small
 * state passed between them (the pixels and Grams live in S3, tile-objects.ts). The state machine itself is
 * infra/constructs/tiles-state-machine.ts; it reads the step names and `next` values from here.
 *
 *   PrepareScale -> Next? -> RunTiles (a Map of `tile` steps) -> ReduceRound -> Next? -> ... -> JoinScale
 *   -> Next? -> PrepareScale (the next scale) | Done | JobFailed
 *
 * Each control step (prepare, reduce, join) says in `next` where the execution goes, so the plan (scales,
 * rounds) has one home: this code, not the definition.
 */
import { z } from 'zod';
import { NstError } from '../../errors.js';
import { describeIssues } from '../../validation.js';
import { JOB_ID_PATTERN } from '../spec/job-id.js';

const TILES_STEPS = ['prepare', 'tile', 'reduce', 'join', 'fail'] as const;
export type TilesStep = (typeof TILES_STEPS)[number];

/** Where the execution goes after a control step. */
const TILES_NEXT = ['tiles', 'join', 'prepare', 'done', 'failed'] as const;
export type TilesNext = (typeof TILES_NEXT)[number];

const stateSchema = z.object({
  bucket: z.string().min(1),
  jobId: z.string().regex(JOB_ID_PATTERN),
  /** The scale under way (its index in the job's plan) and its round. */
  scale: z.number().int().min(0).optional(),
  round: z.number().int().min(0).optional(),
  /** The scale's tile indices: the Map's items. */
  tiles: z.array(z.number().int().min(0)).optional(),
  next: z.enum(TILES_NEXT).optional(),
  /** What a Catch put there: the failed state's error name and cause. */
  error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).optional(),
});

/** The execution's state (its input is `{ bucket, jobId }`). */
export type TilesState = z.infer<typeof stateSchema>;

const eventSchema = z.object({
  nstTiles: z.object({
    step: z.enum(TILES_STEPS),
    state: stateSchema,
    /** The tile of a `tile` step. */
    tile: z.number().int().min(0).optional(),
    /**
     * The execution that sends it ($$.Execution.Id): a step of any other execution than the one job.json
     * names (an orphan whose hand-off was retried, say) leaves the job alone.
     */
    execution: z.string().min(1),
  }),
});

/** What a state of the execution sends the function. */
export type TilesStepEvent = z.infer<typeof eventSchema>;

export const isTilesStep = (e: unknown): boolean => typeof (e as TilesStepEvent)?.nstTiles === 'object';

/** The step an event asks for, checked: a malformed one is an input error (the execution's Catch ends it). */
export function readTilesStep(event: unknown): TilesStepEvent['nstTiles'] {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success)
    throw new NstError('INVALID_JOB_SPEC', `bad tiles step: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data.nstTiles;
}

/** The scale and round a step works on, which the state must name. */
export function scaleAndRound(state: TilesState): { scale: number; round: number } {
  if (state.scale === undefined || state.round === undefined)
    throw new NstError('INTERNAL', `a tiles step without its scale and round: ${JSON.stringify(state)}`);
  return { scale: state.scale, round: state.round };
}

/** Step Functions execution names are at most 80 characters; a job's runs each start one. */
const EXECUTION_NAME_LENGTH = 80;

/** The execution of a job's run: `nst-r<run>-<jobId>`, unique per run as Step Functions requires. */
export const executionNameFor = (jobId: string, run: number): string =>
  `nst-r${run}-${jobId}`.slice(0, EXECUTION_NAME_LENGTH);
