/**
 * The Step Functions channel against a stand-in endpoint, through the real SDK client: what each call
 * carries, which answers end the matter (a task that is over, a token that is not one, no permission) and
 * which are transient.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { NstError } from '../../../../src/errors.js';
import type { Notifier } from '../../../../src/jobs/notify/notifier.js';
import { TaskTokenNotifier } from '../../../../src/jobs/notify/task-token.js';
import { failed, running, succeeded } from '../../../helpers/job-notifications.js';
import { type SfnStandIn, startSfnStandIn } from '../../../helpers/sfn-stand-in.js';

let sfn: SfnStandIn;
let client: SFNClient;
beforeAll(async () => {
  sfn = await startSfnStandIn();
  client = new SFNClient({
    endpoint: sfn.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await sfn.close();
});

function notifier() {
  const unanswerable: NstError[] = [];
  return { channel: new TaskTokenNotifier(client, (e) => unanswerable.push(e)), unanswerable };
}

describe('the task-token channel', () => {
  it("answers a succeeded job's task with the notification as output, and beats while it runs", async () => {
    const { channel, unanswerable } = notifier();
    // The task hears only the end, and heartbeats meanwhile: not the start.
    await (channel as Notifier).started(running, { taskToken: 'ok-1' });
    await channel.running({ taskToken: 'ok-1' });
    await channel.finished(succeeded, { taskToken: 'ok-1' });
    expect(sfn.answers.filter((a) => a.taskToken === 'ok-1')).toEqual([
      { action: 'SendTaskHeartbeat', taskToken: 'ok-1' },
      { action: 'SendTaskSuccess', taskToken: 'ok-1', output: JSON.stringify(succeeded) },
    ]);
    expect(unanswerable).toEqual([]);
  });

  it("answers a failed job's task with its code as the error and its message as the cause", async () => {
    const { channel } = notifier();
    await channel.finished(failed, { taskToken: 'fail-1' });
    expect(sfn.answers.filter((a) => a.taskToken === 'fail-1')).toEqual([
      { action: 'SendTaskFailure', taskToken: 'fail-1', error: 'IMAGE_CORRUPT', cause: 'bad bytes' },
    ]);
  });

  it('cuts a cause to the 32,768 characters Step Functions takes', async () => {
    const { channel } = notifier();
    const long = { ...failed, error: { code: 'INTERNAL' as const, message: 'x'.repeat(40_000) } };
    await channel.finished(long, { taskToken: 'long-1' });
    expect(sfn.answers.find((a) => a.taskToken === 'long-1')?.cause).toHaveLength(32_768);
  });

  it('calls nothing for a job without a token', async () => {
    const before = sfn.answers.length;
    const { channel } = notifier();
    await channel.running({});
    await channel.finished(succeeded, {});
    await channel.finished(succeeded);
    expect(sfn.answers).toHaveLength(before);
  });

  it('reports a task that is over (timed out, or answered before) once, instead of failing the job, and beats it no more', async () => {
    const { channel, unanswerable } = notifier();
    sfn.gone.add('late-1');
    await channel.running({ taskToken: 'late-1' });
    await channel.running({ taskToken: 'late-1' });
    await channel.finished(succeeded, { taskToken: 'late-1' });
    expect(unanswerable.map((e) => e.message)).toEqual([
      "SendTaskHeartbeat for the job's task: TaskTimedOut: Provided task does not exist anymore",
    ]);
    expect(sfn.answers.filter((a) => a.taskToken === 'late-1').map((a) => a.action)).toEqual([
      'SendTaskHeartbeat',
      'SendTaskSuccess',
    ]);
  });

  it('reports a worker with no region or credentials for Step Functions (local mode without its variables)', async () => {
    for (const name of [
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
      'AWS_PROFILE',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
    ])
      vi.stubEnv(name, undefined);
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    const unanswerable: NstError[] = [];
    try {
      for (const region of [undefined, 'us-east-1']) {
        if (region) vi.stubEnv('AWS_REGION', region);
        const bare = new SFNClient({ maxAttempts: 1 });
        await new TaskTokenNotifier(bare, (e) => unanswerable.push(e)).finished(succeeded, {
          taskToken: `bare-${region ?? 'none'}`,
        });
        bare.destroy();
      }
    } finally {
      vi.unstubAllEnvs();
    }
    expect(unanswerable.map((e) => e.message)).toEqual([
      expect.stringMatching(/Region is missing/),
      expect.stringMatching(/^SendTaskSuccess for the job's task: CredentialsProviderError/),
    ]);
  });

  it('throws anything else as NOTIFICATION_FAILED, transient: the job ends only once its task is told', async () => {
    const down = new SFNClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      const channel = new TaskTokenNotifier(down, () => {});
      await expect(channel.finished(succeeded, { taskToken: 'down-1' })).rejects.toMatchObject({
        code: 'NOTIFICATION_FAILED',
        kind: 'transient',
        message: expect.stringContaining("SendTaskSuccess for the job's task"),
      });
    } finally {
      down.destroy();
    }
  });
});
