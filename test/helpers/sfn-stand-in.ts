/**
 * A stand-in Step Functions endpoint on 127.0.0.1 for processes that start executions through the SDK's
 * standard `AWS_ENDPOINT_URL_SFN`: it answers StartExecution (the JSON 1.0 protocol) with the execution's
 * ARN and records each start. Anything else is answered 400, so an unexpected call fails the test.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

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
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'AWSStepFunctions.StartExecution') {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'InvalidAction', message: 'stand-in answers StartExecution only' }));
        return;
      }
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const executionArn = executionArnOf(request.stateMachineArn, request.name);
      started.push({
        stateMachineArn: request.stateMachineArn,
        name: request.name,
        input: request.input,
        executionArn,
      });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ executionArn, startDate: Date.now() / 1000 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    started,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
