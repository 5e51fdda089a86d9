/**
 * The tiles' fan-out (src/jobs/tiled): one Standard execution per tiled run of a job, whose states invoke
 * the stylize function with `{ "nstTiles": { "step", "state", "tile"? } }` (src/jobs/tiled/execution.ts):
 *
 *   PrepareScale -> GoOn -> RunTiles (Distributed Map: one OptimiseTile per tile) -> ReduceRound -> GoOn
 *   GoOn: $.next = tiles -> RunTiles | join -> JoinScale | prepare -> PrepareScale | failed -> JobFailed
 *         | otherwise Done
 *   any step that fails for good -> MarkFailed (the job fails with the step's code) -> JobFailed
 *
 * The steps decide where the execution goes (`next`), so the plan has one home, the function's code. Step
 * Functions retries a step that failed transiently (the codes whose kind retries, Lambda's throttling and
 * service errors). An execution that fails, times out or is stopped outside a Catch reaches the function
 * through EventBridge, which ends the job (TILES_FAILED). Design notes: docs/design/tiled-route.md.
 */
import { ArnFormat, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_KINDS, ERROR_POLICY } from '../../src/errors.js';
import {
  BATCH_EVENT_RETRY_ATTEMPTS,
  EVENT_MAX_AGE_HOURS,
  TILE_STEP_RETRY_ATTEMPTS,
  TILE_TASK_TIMEOUT_MARGIN_SECONDS,
  TILES_EXECUTION_TIMEOUT_HOURS,
} from '../../src/jobs/deployment.js';
import type { TilesNext, TilesStep } from '../../src/jobs/tiled/execution.js';
import { acknowledgeWildcard } from './policies.js';

export interface TilesStateMachineProps {
  /** The function that runs every step (the stylize function). */
  readonly function: lambda.IFunction;
  /** The function's timeout: a step's task times out a little after it. */
  readonly functionTimeout: Duration;
  /** Tile tasks of one execution at once: the Map's MaxConcurrency. */
  readonly tileConcurrency: number;
  /** The state machine's name (the function's environment names it by its ARN, made from the name). */
  readonly stateMachineName: string;
  /** Where an execution-ended event goes when the function cannot take it. */
  readonly deadLetterQueue: sqs.IQueue;
  readonly logRetention: logs.RetentionDays;
}

/** The codes of the errors a retry may cure (src/errors.ts), as the function names its errors. */
const RETRIED_CODES = Object.entries(ERROR_KINDS)
  .filter(([, kind]) => ERROR_POLICY[kind].retry)
  .map(([code]) => code);

export class TilesStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly executionEnded: events.Rule;

  constructor(scope: Construct, id: string, props: TilesStateMachineProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}`,
      retention: props.logRetention,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      timeout: Duration.hours(TILES_EXECUTION_TIMEOUT_HOURS),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.acknowledgeWildcards(props);
    this.executionEnded = this.routeEndedExecutions(props);
  }

  /** The states: the steps, the Map of tiles, and the one Choice that follows the steps' `next`. */
  private definition(props: TilesStateMachineProps): sfn.IChainable {
    const jobFailed = new sfn.Fail(this, 'JobFailed', {
      error: 'TilesJobFailed',
      cause: 'the job failed: its job.json and notification say why',
    });
    const markFailed = this.step('MarkFailed', 'fail', props).next(jobFailed);
    const control = (id: string, step: TilesStep) =>
      this.step(id, step, props).addCatch(markFailed, { resultPath: '$.error' });
    const prepare = control('PrepareScale', 'prepare');
    const reduce = control('ReduceRound', 'reduce');
    const join = control('JoinScale', 'join');
    const runTiles = this.tilesMap(props).addCatch(markFailed, { resultPath: '$.error' });
    const goTo = (next: TilesNext) => sfn.Condition.stringEquals('$.next', next);
    const next = new sfn.Choice(this, 'GoOn', { comment: 'Where the last step sent the execution' })
      .when(goTo('tiles'), runTiles)
      .when(goTo('join'), join)
      .when(goTo('prepare'), prepare)
      .when(goTo('failed'), jobFailed)
      .otherwise(new sfn.Succeed(this, 'Done'));
    runTiles.next(reduce);
    for (const state of [prepare, reduce, join]) state.next(next);
    return prepare;
  }

  /** One step: the function with `{ nstTiles: { step, state: $ } }`; its result is the next state. */
  private step(id: string, step: TilesStep, props: TilesStateMachineProps): tasks.LambdaInvoke {
    return this.retried(
      new tasks.LambdaInvoke(this, id, {
        lambdaFunction: props.function,
        payload: sfn.TaskInput.fromObject({
          nstTiles: { step, state: sfn.JsonPath.entirePayload, execution: sfn.JsonPath.executionId },
        }),
        payloadResponseOnly: true,
        taskTimeout: taskTimeout(props),
      }),
    );
  }

  /** Every tile of the round at once (up to the concurrency), each in a child execution of its own. */
  private tilesMap(props: TilesStateMachineProps): sfn.DistributedMap {
    const tile = this.retried(
      new tasks.LambdaInvoke(this, 'OptimiseTile', {
        lambdaFunction: props.function,
        payloadResponseOnly: true,
        taskTimeout: taskTimeout(props),
      }),
    );
    return new sfn.DistributedMap(this, 'RunTiles', {
      comment: "A round: each tile's iterations against the round's residual",
      itemsPath: '$.tiles',
      itemSelector: {
        nstTiles: {
          step: 'tile' satisfies TilesStep,
          state: {
            bucket: sfn.JsonPath.stringAt('$.bucket'),
            jobId: sfn.JsonPath.stringAt('$.jobId'),
            scale: sfn.JsonPath.numberAt('$.scale'),
            round: sfn.JsonPath.numberAt('$.round'),
          },
          tile: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
          // A child execution's own id is another: the parent's travels with the item.
          execution: sfn.JsonPath.executionId,
        },
      },
      maxConcurrency: props.tileConcurrency,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      // The tiles write their results to S3; the state keeps its own small shape.
      resultPath: sfn.JsonPath.DISCARD,
      label: 'tiles',
    }).itemProcessor(tile);
  }

  /** Retries what may pass: our transient codes, Lambda's throttling and service errors (CDK's default). */
  private retried(task: tasks.LambdaInvoke): tasks.LambdaInvoke {
    task.addRetry({
      errors: [...RETRIED_CODES, 'Lambda.TooManyRequestsException'],
      interval: Duration.seconds(5),
      maxAttempts: TILE_STEP_RETRY_ATTEMPTS,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }

  /**
   * An execution that ended without a Catch (timed out, stopped, or failed outside one) never reaches
   * MarkFailed, so its status-change event goes to the function, which ends the job.
   */
  private routeEndedExecutions(props: TilesStateMachineProps): events.Rule {
    return new events.Rule(this, 'ExecutionEnded', {
      description: "Tiles' executions that failed, timed out or were stopped go to the stylize function",
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(props.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: BATCH_EVENT_RETRY_ATTEMPTS,
          maxEventAge: Duration.hours(EVENT_MAX_AGE_HOURS),
        }),
      ],
    });
  }

  /**
   * The wildcards CDK's grants write: the function's versions, the Distributed Map's child executions of
   * this state machine, and the actions that take no resource (log delivery, X-Ray).
   */
  private acknowledgeWildcards(props: TilesStateMachineProps): void {
    const { role } = this.stateMachine;
    acknowledgeWildcard(
      role,
      `${props.function.functionArn}:*`,
      'Versions and aliases of the stylize function only: the steps invoke it.',
    );
    // As CDK's DistributedMap policy names this state machine's executions and its Map Runs' children.
    const name = Fn.select(6, Fn.split(':', this.stateMachine.stateMachineArn));
    for (const executions of [`${name}:*`, `${name}/tiles:*`]) {
      acknowledgeWildcard(
        this.stateMachine,
        Stack.of(this).formatArn({
          service: 'states',
          resource: 'execution',
          resourceName: executions,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
        "This state machine's own executions only: its Distributed Map starts and watches its child executions.",
      );
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Vended log delivery and X-Ray trace segments: these actions take no resource (Step Functions logging ' +
        'and tracing, which cdk-nag asks for, need them).',
    });
  }
}

const taskTimeout = (props: TilesStateMachineProps) =>
  sfn.Timeout.duration(props.functionTimeout.plus(Duration.seconds(TILE_TASK_TIMEOUT_MARGIN_SECONDS)));
