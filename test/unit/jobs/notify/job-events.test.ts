/** The EventBridge channel: what it puts on the bus, and how its failures become NOTIFICATION_FAILED. */
import type {
  EventBridgeClient,
  PutEventsCommand,
  PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { describe, expect, it, vi } from 'vitest';
import { NstError } from '../../../../src/errors.js';
import { EventBridgeNotifier } from '../../../../src/jobs/notify/eventbridge.js';
import { deliveredJobEvent, jobEvent } from '../../../../src/jobs/notify/job-events.js';
import { type Notifier, Notifiers } from '../../../../src/jobs/notify/notifier.js';
import { failed, running, succeeded } from '../../../helpers/job-notifications.js';

/** A client whose PutEvents answers `answer` (or throws it) and keeps each command's input. */
function fakeClient(answer: Partial<PutEventsCommandOutput> | Error) {
  const inputs: PutEventsCommand['input'][] = [];
  const send = vi.fn(async (command: PutEventsCommand) => {
    inputs.push(command.input);
    if (answer instanceof Error) throw answer;
    return answer;
  });
  return { client: { send } as unknown as EventBridgeClient, inputs };
}

describe('job events', () => {
  it('have the detail-type of the status, the source, the objects as S3 ARNs and the notification as detail', () => {
    expect(jobEvent(running)).toEqual({
      source: 'serverless-style-transfer',
      detailType: 'Style Transfer Job Started',
      resources: ['arn:aws:s3:::pics/inputs/starry/photo.jpg'],
      detail: running,
    });
    expect(jobEvent(succeeded)).toMatchObject({
      detailType: 'Style Transfer Job Succeeded',
      resources: [
        'arn:aws:s3:::pics/inputs/starry/photo.jpg',
        'arn:aws:s3:::pics/outputs/photo-0123/result.jpg',
      ],
    });
    expect(jobEvent(failed).detailType).toBe('Style Transfer Job Failed');
  });

  it('are delivered (local mode) in the envelope EventBridge gives its targets, time in whole seconds', () => {
    const event = deliveredJobEvent(succeeded, new Date('2026-03-04T05:06:07.890Z'));
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Style Transfer Job Succeeded',
      source: 'serverless-style-transfer',
      time: '2026-03-04T05:06:07Z',
      resources: jobEvent(succeeded).resources,
      detail: succeeded,
    });
    expect(deliveredJobEvent(succeeded, new Date()).id).not.toBe(event.id);
  });
});

const refusedNot = () => {
  throw new Error('no refusal expected');
};

describe('EventBridgeNotifier', () => {
  it('puts one entry on the configured bus for a start and for an end', async () => {
    const { client, inputs } = fakeClient({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const notifier = new EventBridgeNotifier(client, 'pipelines', refusedNot);
    await notifier.started(running);
    await notifier.finished(succeeded);
    expect(inputs).toEqual([
      {
        Entries: [
          {
            EventBusName: 'pipelines',
            Source: 'serverless-style-transfer',
            DetailType: 'Style Transfer Job Started',
            Resources: ['arn:aws:s3:::pics/inputs/starry/photo.jpg'],
            Detail: JSON.stringify(running),
          },
        ],
      },
      {
        Entries: [
          expect.objectContaining({
            DetailType: 'Style Transfer Job Succeeded',
            Detail: JSON.stringify(succeeded),
          }),
        ],
      },
    ]);
  });

  it('fails with NOTIFICATION_FAILED (transient) when PutEvents throws', async () => {
    const { client } = fakeClient(new Error('socket hang up'));
    await expect(
      new EventBridgeNotifier(client, 'default', refusedNot).finished(failed),
    ).rejects.toMatchObject({
      code: 'NOTIFICATION_FAILED',
      kind: 'transient',
      message: 'cannot put Style Transfer Job Failed on event bus default: socket hang up',
    });
  });

  it('fails with NOTIFICATION_FAILED when PutEvents answers that the entry failed', async () => {
    const { client } = fakeClient({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
    });
    await expect(
      new EventBridgeNotifier(client, 'default', refusedNot).started(running),
    ).rejects.toMatchObject({
      code: 'NOTIFICATION_FAILED',
      message: 'cannot put Style Transfer Job Started on event bus default: InternalFailure: try again',
    });
  });

  it('reports a bus that refuses the events (missing, or not ours) instead of failing the job for ever', async () => {
    for (const name of ['ResourceNotFoundException', 'AccessDeniedException']) {
      const { client } = fakeClient(Object.assign(new Error('Event bus pipelnes does not exist.'), { name }));
      const refused: NstError[] = [];
      await new EventBridgeNotifier(client, 'pipelnes', (e) => refused.push(e)).finished(failed);
      expect(refused.map((e) => e.message)).toEqual([
        'cannot put Style Transfer Job Failed on event bus pipelnes: Event bus pipelnes does not exist.',
      ]);
    }
  });
});

describe('Notifiers', () => {
  const recording = (fail = false) => {
    const told: string[] = [];
    const channel: Notifier = {
      started: async (n) => void told.push(n.status),
      finished: async (n) => {
        if (fail) throw new NstError('NOTIFICATION_FAILED', 'down');
        told.push(n.status);
      },
    };
    return { channel, told };
  };

  it('tells every channel, and one that fails neither stops the others nor goes unreported', async () => {
    const [a, down, b] = [recording(), recording(true), recording()];
    const all = new Notifiers([a.channel, down.channel, b.channel]);
    await all.started(running);
    await expect(all.finished(succeeded)).rejects.toMatchObject({ code: 'NOTIFICATION_FAILED' });
    expect(a.told).toEqual(['running', 'succeeded']);
    expect(b.told).toEqual(['running', 'succeeded']);
    expect(down.told).toEqual(['running']);
  });

  it('tells the waiters after every channel, and not at all while a channel fails (the retry tells them once)', async () => {
    const order: string[] = [];
    const named = (name: string, fail = false): Notifier => ({
      started: async () => {},
      finished: async (_n, waiter) => {
        order.push(`${name}:${waiter?.taskToken ?? '-'}`);
        if (fail) throw new NstError('NOTIFICATION_FAILED', 'down');
      },
    });
    await new Notifiers([named('sns'), named('events')], [named('task')]).finished(succeeded, {
      taskToken: 't-1',
    });
    expect(order).toEqual(['sns:t-1', 'events:t-1', 'task:t-1']);
    order.length = 0;
    await expect(
      new Notifiers([named('sns', true)], [named('task')]).finished(succeeded),
    ).rejects.toMatchObject({
      code: 'NOTIFICATION_FAILED',
    });
    expect(order).toEqual(['sns:-']);
  });

  it('throws every failure as one when several channels fail', async () => {
    const all = new Notifiers([recording(true).channel, recording().channel, recording(true).channel]);
    await expect(all.finished(failed)).rejects.toMatchObject({
      code: 'NOTIFICATION_FAILED',
      message: 'down; down',
    });
  });
});
