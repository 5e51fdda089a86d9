/**
 * A stand-in Step Functions endpoint on 127.0.0.1 for processes that start executions through the SDK's
 * standard `AWS_ENDPOINT_URL_SFN`: it answers StartExecution (the JSON 1.0 protocol) with the execution's
 * ARN and records each start. Anything else is answered 400, so an unexpected call fails the test.
 */
import { awsJsonAnswer, startStandInServer } from './stand-in-server.js';

interface StartedExecution {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  /** As StartExecution answered it: the state machine's ARN with `execution` and the name. */
  readonly executionArn: string;
}

export interface SfnStandIn {
  readonly endpoint: string;
  readonly started: readonly StartedExecution[];
  close(): Promise<void>;
}

const executionArnOf = (stateMachineArn: string, name: string) =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

export async function startSfnStandIn(): Promise<SfnStandIn> {
  const started: StartedExecution[] = [];
  const json = (status: number, body: unknown) => awsJsonAnswer('1.0', status, body);
  const server = await startStandInServer((req, body) => {
    if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'AWSStepFunctions.StartExecution')
      return json(400, { __type: 'InvalidAction', message: 'stand-in answers StartExecution only' });
    const request = JSON.parse(body.toString('utf8'));
    const executionArn = executionArnOf(request.stateMachineArn, request.name);
    started.push({
      stateMachineArn: request.stateMachineArn,
      name: request.name,
      input: request.input,
      executionArn,
    });
    return json(200, { executionArn, startDate: Date.now() / 1000 });
  });
  return { ...server, started };
}
