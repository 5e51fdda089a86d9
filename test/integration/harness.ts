/**
 * The pipeline's integration harness, next to the local S3 server (test/helpers/local-s3.ts, whose events
 * encode keys exactly as the local mode sends them): generated VGG-19 weights on disk, tiny jobs, a fake
 * Lambda context, and real SNS / Batch / Lambda clients whose calls are captured before they leave the
 * process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchClient } from '@aws-sdk/client-batch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import {
  createStylizeHandler,
  type StylizeFunctionOptions,
  type StylizeHandler,
} from '../../functions/stylize/index.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import type { LocalS3 } from '../../src/storage/local-s3.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { writeWeights } from '../../src/weights/store.js';
import { photoLike, sharpOf } from '../helpers/images.js';
import { type S3Harness, startS3 } from '../helpers/local-s3.js';

/** The style every pipeline test file puts in its bucket. */
const STYLE_KEY = 'styles/starry.png';

export interface PipelineFixture {
  /** Generated weights, written once for the file. */
  readonly weightsDir: string;
  /** A fresh local S3 server for each test, with STYLE_KEY in its bucket. */
  readonly server: S3Harness;
}

/**
 * The set-up the pipeline test files share, as vitest hooks (call it at the top of the file; hooks the
 * file registers after it see the server).
 */
export function usePipelineFixture(): PipelineFixture {
  let weights: Awaited<ReturnType<typeof weightsDir>> | undefined;
  let server: S3Harness | undefined;
  beforeAll(async () => {
    weights = await weightsDir();
  });
  afterAll(async () => weights?.cleanup());
  beforeEach(async () => {
    server = await startS3();
    await server.store.put(STYLE_KEY, await png(48, 48, 5));
  });
  afterEach(async () => server?.close());
  return {
    get weightsDir() {
      return weights!.dir;
    },
    get server() {
      return server!;
    },
  };
}

/** Options that make a job take a second or two on 2 cores: one 32 px scale, 3 iterations. */
export const TINY = { size: 32, minSize: 32, iterations: 3 } as const;

/** The same options as x-amz-meta-nst-* metadata. */
export const TINY_METADATA = { 'nst-size': '32', 'nst-min-size': '32', 'nst-iterations': '3' };

/** Generated weights written once per test file; returns the directory. */
export async function weightsDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'nst-weights-'));
  await writeWeights(dir, generateVggWeights(7));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A photo-like JPEG. */
export const jpeg = (width = 40, height = 32, seed = 1): Promise<Buffer> =>
  sharpOf(photoLike(width, height, seed))
    .jpeg()
    .toBuffer();
export const png = (width = 40, height = 32, seed = 2): Promise<Buffer> =>
  sharpOf(photoLike(width, height, seed))
    .png()
    .toBuffer();

/** A fake Lambda context; `remainingMs` may change between calls (a clock that runs fast). */
export function lambdaContext(remainingMs: () => number = () => 900_000, requestId = 'req-1'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'nst-stylize',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:nst-stylize',
    memoryLimitInMB: '10240',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/nst-stylize',
    logStreamName: 'stream',
    getRemainingTimeInMillis: remainingMs,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export interface CapturedCall {
  readonly command: string;
  readonly input: Record<string, unknown>;
}

/**
 * Adds a first middleware to a real SDK client that records each command's input and answers it with
 * `answer` (or throws what it throws), so nothing leaves the process and the exact parameters can be checked.
 */
export function capture<C extends SNSClient | EventBridgeClient | BatchClient | LambdaClient | SFNClient>(
  client: C,
  answer: (call: CapturedCall) => Record<string, unknown> = () => ({}),
): { client: C; calls: CapturedCall[] } {
  const calls: CapturedCall[] = [];
  (client.middlewareStack as SNSClient['middlewareStack']).add(
    (_next, context) => async (args) => {
      const call = { command: String(context.commandName), input: args.input as Record<string, unknown> };
      calls.push(call);
      return { output: { $metadata: {}, ...answer(call) }, response: {} } as never;
    },
    { step: 'initialize', name: 'nstCapture' },
  );
  return { client, calls };
}

const fakeAws = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };

export const captured = {
  sns: (answer?: Parameters<typeof capture>[1]) =>
    capture(new SNSClient(fakeAws), answer ?? (() => ({ MessageId: 'm-1' }))),
  eventBridge: (answer?: Parameters<typeof capture>[1]) =>
    capture(
      new EventBridgeClient(fakeAws),
      answer ?? (() => ({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] })),
    ),
  batch: (answer?: Parameters<typeof capture>[1]) =>
    capture(
      new BatchClient(fakeAws),
      answer ?? ((c) => ({ jobId: 'batch-job-1', jobName: c.input.jobName })),
    ),
  lambda: (answer?: Parameters<typeof capture>[1]) =>
    capture(new LambdaClient(fakeAws), answer ?? (() => ({ StatusCode: 202 }))),
  sfn: (answer?: Parameters<typeof capture>[1]) =>
    capture(
      new SFNClient(fakeAws),
      answer ??
        ((c) => ({
          executionArn: `arn:aws:states:us-east-1:123456789012:execution:nst-tiles:${c.input.name}`,
        })),
    ),
};

export const quietLogger = () => new Logger({ serviceName: 'nst-test', logLevel: 'SILENT' });

/** The SNS topic the test handlers publish to (captured, never sent). */
export const TOPIC = 'arn:aws:sns:us-east-1:123456789012:nst-jobs';

/**
 * The stylize handler as the tests run it: the given weights, TOPIC, quiet logs and metrics; `deps` adds
 * clients and overrides any of those, and `deps.env` adds to the environment.
 */
export function testHandler(weightsDir: string, deps: StylizeFunctionOptions = {}): StylizeHandler {
  return createStylizeHandler({
    logger: quietLogger(),
    metrics: quietMetrics(),
    ...deps,
    env: { NST_WEIGHTS_DIR: weightsDir, NST_TOPIC_ARN: TOPIC, ...deps.env },
  });
}

/** Metrics that keep each published EMF document instead of printing it. */
class RecordingMetrics extends Metrics {
  readonly published: ReturnType<Metrics['serializeMetrics']>[] = [];

  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) this.published.push(this.serializeMetrics());
    this.clearMetrics();
    this.clearMetadata();
    return this;
  }
}

export const quietMetrics = () => new RecordingMetrics({ serviceName: 'nst-test', namespace: 'NstTest' });

/** Records the input of every PutObject the client sends (the requests still go to the server). */
export function recordPuts(
  client: LocalS3['client'],
): { key: string; tagging?: string; contentType?: string }[] {
  const puts: { key: string; tagging?: string; contentType?: string }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand') {
        const input = args.input as { Key: string; Tagging?: string; ContentType?: string };
        puts.push({ key: input.Key, tagging: input.Tagging, contentType: input.ContentType });
      }
      return next(args);
    },
    { step: 'initialize', name: 'nstRecordPuts' },
  );
  return puts;
}

/** Width and height of an image object. */
export async function imageSize(
  store: ObjectStore,
  key: string,
): Promise<{ width: number; height: number; format: string }> {
  const object = await store.get(key);
  if (!object) throw new Error(`${key} does not exist`);
  const meta = await sharp(object.body).metadata();
  return { width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? '' };
}
