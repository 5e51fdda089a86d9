/** The channels a worker tells about jobs, as its configuration names them. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it, vi } from 'vitest';
import { readPipelineConfig } from '../../../../src/jobs/config.js';
import { buildWorkerDeps } from '../../../../src/jobs/wiring/build-deps.js';
import { succeeded as finished, running } from '../../../helpers/job-notifications.js';

/** A worker configured by `env`, with clients that keep what they are sent. */
function worker(env: Record<string, string>, eventBridgeError?: Error) {
  const published: string[] = [];
  const put: string[] = [];
  const sns = { send: vi.fn(async () => void published.push('sns')) } as unknown as SNSClient;
  const eventBridge = {
    send: vi.fn(async () => {
      if (eventBridgeError) throw eventBridgeError;
      put.push('eventbridge');
      return { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] };
    }),
  } as unknown as EventBridgeClient;
  const logger = new Logger({ serviceName: 'nst-test', logLevel: 'SILENT' });
  const logged = { info: vi.spyOn(logger, 'info'), error: vi.spyOn(logger, 'error') };
  const deps = buildWorkerDeps({
    config: readPipelineConfig(env),
    worker: 'lambda',
    s3: {} as S3Client,
    sns,
    eventBridge,
    logger,
  });
  return { notifier: deps.notifier, published, put, logged };
}

describe("a worker's notifier", () => {
  it('tells the topic and the bus when both are configured', async () => {
    const w = worker({ NST_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t', NST_EVENT_BUS: 'default' });
    await w.notifier.started(running);
    await w.notifier.finished(finished);
    expect(w.published).toEqual(['sns']); // SNS carries finished jobs only
    expect(w.put).toEqual(['eventbridge', 'eventbridge']);
  });

  it('tells the bus alone when no topic is configured', async () => {
    const w = worker({ NST_EVENT_BUS: 'default' });
    await w.notifier.finished(finished);
    expect([w.published, w.put]).toEqual([[], ['eventbridge']]);
  });

  it('logs a line per finished job when neither is configured', async () => {
    const w = worker({});
    await w.notifier.finished(finished);
    expect([w.published, w.put]).toEqual([[], []]);
    expect(w.logged.info).toHaveBeenCalledWith(
      expect.stringContaining('job photo-0123 succeeded'),
      expect.anything(),
    );
  });

  it('logs an error naming the setting when the bus refuses the events, and the job goes on', async () => {
    const missing = Object.assign(new Error('Event bus pipelnes does not exist.'), {
      name: 'ResourceNotFoundException',
    });
    const w = worker({ NST_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t', NST_EVENT_BUS: 'pipelnes' }, missing);
    await w.notifier.finished(finished);
    expect(w.published).toEqual(['sns']);
    expect(w.logged.error).toHaveBeenCalledWith(
      'events are not put: set NST_EVENT_BUS to a bus this worker may put on',
      { error: expect.stringContaining('Event bus pipelnes does not exist.') },
    );
  });
});
