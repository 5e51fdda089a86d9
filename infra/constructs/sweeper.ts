/**
 * The sweeper's schedule: every few minutes EventBridge invokes the stylize function with
 * `{ "nstSweep": { "bucket": <bucket> } }`, and the function finds jobs `queued` or `running` whose lease
 * and time budget have lapsed, and resumes or fails them (src/jobs). A missed or failed sweep costs
 * nothing but a delay: the next one looks again.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { SWEEP_PERIOD_MINUTES, SWEEP_RETRY_ATTEMPTS } from '../../src/jobs/deployment.js';

/** How often the sweep runs. */
const SWEEP_INTERVAL = Duration.minutes(SWEEP_PERIOD_MINUTES);

/** The event the function receives (the contract of src/jobs/intake/handler.ts). */
export const sweepEvent = (bucketName: string) => ({ nstSweep: { bucket: bucketName } });

export interface SweepScheduleProps {
  /** The function that sweeps. */
  readonly function: lambda.IFunction;
  /** The pipeline bucket whose jobs it sweeps. */
  readonly bucket: s3.IBucket;
}

export class SweepSchedule extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: SweepScheduleProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: 'Sweeps the pipeline for jobs whose worker died: resumes or fails them',
      schedule: events.Schedule.rate(SWEEP_INTERVAL),
      targets: [
        new targets.LambdaFunction(props.function, {
          event: events.RuleTargetInput.fromObject(sweepEvent(props.bucket.bucketName)),
          // A sweep older than the interval is superseded by the next one: no dead-letter queue.
          maxEventAge: SWEEP_INTERVAL,
          retryAttempts: SWEEP_RETRY_ATTEMPTS,
        }),
      ],
    });
  }
}
