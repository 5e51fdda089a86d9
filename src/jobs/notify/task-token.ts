/**
 * The Step Functions channel: a job whose spec carries a task token answers the task that waits on it.
 * At the end, SendTaskSuccess with the job's notification as the task's output, or SendTaskFailure with
 * the error's code and message; while it runs, SendTaskHeartbeat at each write of its job.json. A job
 * without a token is no business of this channel.
 */
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  type SFNClientConfig,
} from '@aws-sdk/client-sfn';
import { NstError } from '../../errors.js';
import type { JobNotification } from './job-notification.js';
import type { JobWaiter, Notifier } from './notifier.js';

/**
 * Answers that no retry changes, told to `onUnanswerable` instead of thrown: the task is over (it timed out,
 * or an earlier telling of the same end reached it), the token is not one, the output is refused, or the worker may not answer
 * (IAM, or no credentials at all, as in local mode without AWS_ENDPOINT_URL_SFN). Retrying them would keep
 * the job from ending, and the workflow learns nothing more from a second answer.
 */
const UNANSWERABLE = new Set([
  'InvalidOutput',
  'TaskDoesNotExist',
  'TaskTimedOut',
  'InvalidToken',
  'AccessDeniedException',
  'CredentialsProviderError',
]);
/** The SDK's error for a client with no region configured (a plain Error: only its message says so). */
const NO_REGION = /^Region is missing/;
const isUnanswerable = (e: Error) => UNANSWERABLE.has(e.name) || NO_REGION.test(e.message);

/** Step Functions' limits on SendTaskFailure's error and cause. */
const MAX_ERROR_CHARS = 256;
const MAX_CAUSE_CHARS = 32_768;

/**
 * A Step Functions client for the pipeline's calls: every job.json write of a job with a task token waits
 * for its heartbeat, so a slow or unreachable endpoint must cost seconds, not the SDK's defaults.
 */
export const STEP_FUNCTIONS_CLIENT_SETTINGS = {
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 3000, requestTimeout: 10_000 },
} as const satisfies SFNClientConfig;

export class TaskTokenNotifier implements Notifier {
  /** Tasks found over (or not ours to answer): neither beaten nor reported again. */
  readonly #unanswerable = new Set<string>();

  constructor(
    private readonly client: SFNClient,
    private readonly onUnanswerable: (error: NstError) => void,
  ) {}

  /** The task hears the job's end only (and heartbeats meanwhile). */
  async started(): Promise<void> {}

  async finished(n: JobNotification, { taskToken }: JobWaiter = {}): Promise<void> {
    if (!taskToken) return;
    if (n.status === 'succeeded') {
      await this.send(
        'SendTaskSuccess',
        new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(n) }),
      );
      return;
    }
    const error = n.error ?? { code: 'INTERNAL', message: `job ${n.jobId} ended ${n.status}` };
    await this.send(
      'SendTaskFailure',
      new SendTaskFailureCommand({
        taskToken,
        error: error.code.slice(0, MAX_ERROR_CHARS),
        cause: error.message.slice(0, MAX_CAUSE_CHARS),
      }),
    );
  }

  async running({ taskToken }: JobWaiter): Promise<void> {
    if (taskToken && !this.#unanswerable.has(taskToken))
      await this.send('SendTaskHeartbeat', new SendTaskHeartbeatCommand({ taskToken }));
  }

  private async send(
    action: string,
    command: SendTaskSuccessCommand | SendTaskFailureCommand | SendTaskHeartbeatCommand,
  ): Promise<void> {
    const { taskToken } = command.input;
    try {
      // One client sends all three; the SDK's overloads take one command type at a time.
      await this.client.send(command as SendTaskSuccessCommand);
    } catch (cause) {
      const name = (cause as Error).name;
      const error = new NstError(
        'NOTIFICATION_FAILED',
        `${action} for the job's task: ${name}: ${(cause as Error).message}`,
        { cause },
      );
      if (!isUnanswerable(cause as Error)) throw error;
      if (taskToken && this.#unanswerable.has(taskToken)) return;
      if (taskToken) this.#unanswerable.add(taskToken);
      this.onUnanswerable(error);
    }
  }
}
