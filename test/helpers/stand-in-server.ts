/**
 * The HTTP side of the AWS stand-ins (sns-, sfn- and events-stand-in.ts): a server on 127.0.0.1 that
 * reads each request's body and sends what the stand-in answers. Processes reach a stand-in through the
 * SDK's standard per-service endpoint variables (AWS_ENDPOINT_URL_<SERVICE>).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** An answer in AWS's JSON protocol (version 1.0 for Step Functions, 1.1 for EventBridge). */
export function awsJsonAnswer(version: '1.0' | '1.1', status: number, body: unknown): StandInAnswer {
  return { status, contentType: `application/x-amz-json-${version}`, body: JSON.stringify(body) };
}

export interface StandInServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startStandInServer(
  answer: (req: IncomingMessage, body: Buffer) => StandInAnswer,
): Promise<StandInServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { status, contentType, body } = answer(req, Buffer.concat(chunks));
      res.writeHead(status, { 'content-type': contentType });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
