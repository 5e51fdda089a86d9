/**
 * A stand-in EventBridge endpoint on 127.0.0.1 for processes that put events through the SDK's standard
 * `AWS_ENDPOINT_URL_EVENTBRIDGE`: it answers PutEvents (the JSON 1.1 protocol), putting every entry, and
 * records each one. Anything else is answered 400, so an unexpected call fails the test.
 */
import { randomUUID } from 'node:crypto';
import { awsJsonAnswer, startStandInServer } from './stand-in-server.js';

interface PutEvent {
  readonly EventBusName?: string;
  readonly Source: string;
  readonly DetailType: string;
  readonly Resources?: string[];
  readonly Detail: string;
}

export interface EventsStandIn {
  readonly endpoint: string;
  readonly events: readonly PutEvent[];
  close(): Promise<void>;
}

export async function startEventsStandIn(): Promise<EventsStandIn> {
  const events: PutEvent[] = [];
  const json = (status: number, body: unknown) => awsJsonAnswer('1.1', status, body);
  const server = await startStandInServer((req, body) => {
    if (req.method !== 'POST' || req.headers['x-amz-target'] !== 'AWSEvents.PutEvents')
      return json(400, { __type: 'InvalidAction', message: 'stand-in answers PutEvents only' });
    const { Entries } = JSON.parse(body.toString('utf8')) as { Entries: PutEvent[] };
    events.push(...Entries);
    return json(200, { FailedEntryCount: 0, Entries: Entries.map(() => ({ EventId: randomUUID() })) });
  });
  return { ...server, events };
}
