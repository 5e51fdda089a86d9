/**
 * A stand-in Step Functions endpoint on 127.0.0.1 for processes that call it through the SDK's standard
 * `AWS_ENDPOINT_URL_SFN` (the JSON 1.0 protocol): it answers StartExecution with the execution's ARN, and
 * SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat as Step Functions does, recording each call. A
 * task answered once is over: answering it again gets TaskTimedOut, as from the service. Tokens in `gone`
 * are over from the start. Anything else is answered 400, so an unexpected call fails the test.
 */
import { awsJsonAnswer, startStandInServer } from './stand-in-server.js';

interface StartedExecution {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  /** As StartExecution answered it: the state machine's ARN with `execution` and the name. */
  readonly executionArn: string;
}

/** A task-token call as the stand-in received it. */
interface TaskAnswer {
  readonly action: 'SendTaskSuccess' | 'SendTaskFailure' | 'SendTaskHeartbeat';
  readonly taskToken: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface SfnStandIn {
  readonly endpoint: string;
  readonly started: readonly StartedExecution[];
  /** Every task-token call, in order, taken or not. */
  readonly answers: readonly TaskAnswer[];
  /** Tokens whose task is over (answered, timed out): a call with one gets TaskTimedOut. */
  readonly gone: Set<string>;
  close(): Promise<void>;
}

const executionArnOf = (stateMachineArn: string, name: string) =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

const TASK_ACTIONS = new Set(['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat']);

export async function startSfnStandIn(): Promise<SfnStandIn> {
  const started: StartedExecution[] = [];
  const answers: TaskAnswer[] = [];
  const gone = new Set<string>();
  const json = (status: number, body: unknown) => awsJsonAnswer('1.0', status, body);
  const server = await startStandInServer((req, body) => {
    const action = String(req.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
    if (req.method !== 'POST')
      return json(400, { __type: 'InvalidAction', message: 'stand-in answers POST only' });
    const request = JSON.parse(body.toString('utf8'));
    if (action === 'StartExecution') {
      const executionArn = executionArnOf(request.stateMachineArn, request.name);
      started.push({ ...request, executionArn });
      return json(200, { executionArn, startDate: Date.now() / 1000 });
    }
    if (TASK_ACTIONS.has(action)) {
      answers.push({ action: action as TaskAnswer['action'], ...request });
      if (gone.has(request.taskToken))
        return json(400, { __type: 'TaskTimedOut', message: 'Provided task does not exist anymore' });
      if (action !== 'SendTaskHeartbeat') gone.add(request.taskToken);
      return json(200, {});
    }
    return json(400, { __type: 'InvalidAction', message: `stand-in does not answer ${action}` });
  });
  return { ...server, started, answers, gone };
}
