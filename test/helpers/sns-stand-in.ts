/**
 * A stand-in SNS endpoint on 127.0.0.1 for processes that publish through the SDK's standard
 * `AWS_ENDPOINT_URL_SNS`: it answers Publish (SNS's query protocol, form-encoded) and records each
 * message. Anything else is answered 400, so an unexpected call fails the test instead of passing silently.
 */
import { randomUUID } from 'node:crypto';
import { startStandInServer } from './stand-in-server.js';

interface PublishedMessage {
  readonly topicArn: string;
  readonly subject?: string;
  readonly message: string;
  /** MessageAttributes.entry.N.Name -> StringValue */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface SnsStandIn {
  readonly endpoint: string;
  readonly messages: readonly PublishedMessage[];
  close(): Promise<void>;
}

function published(form: URLSearchParams): PublishedMessage {
  const attributes: Record<string, string> = {};
  for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const name = form.get(`MessageAttributes.entry.${n}.Name`)!;
    attributes[name] = form.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? '';
  }
  return {
    topicArn: form.get('TopicArn') ?? '',
    subject: form.get('Subject') ?? undefined,
    message: form.get('Message') ?? '',
    attributes,
  };
}

const publishResponse = (messageId: string) =>
  `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`;

export async function startSnsStandIn(): Promise<SnsStandIn> {
  const messages: PublishedMessage[] = [];
  const server = await startStandInServer((req, body) => {
    const form = new URLSearchParams(body.toString('utf8'));
    if (req.method !== 'POST' || form.get('Action') !== 'Publish') {
      return {
        status: 400,
        contentType: 'text/xml',
        body: '<ErrorResponse><Error><Code>InvalidAction</Code><Message>stand-in answers Publish only</Message></Error></ErrorResponse>',
      };
    }
    messages.push(published(form));
    return { status: 200, contentType: 'text/xml', body: publishResponse(randomUUID()) };
  });
  return { ...server, messages };
}
