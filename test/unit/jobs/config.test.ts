/** The pipeline's environment contract. */
import { describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/jobs/config.js';

describe('configuration', () => {
  it('has defaults for everything', () => {
    expect(readPipelineConfig({})).toEqual({
      weightsDir: undefined,
      topicArn: undefined,
      batch: undefined,
      engine: 'auto',
      threads: undefined,
      marginSeconds: 60,
      maxPixels: undefined,
      maxInputBytes: 200 * 1024 * 1024,
      leaseSeconds: 45,
      maxContinuations: 4,
      bucket: undefined,
      keyPrefix: '',
      eventBus: undefined,
      webhookUrl: undefined,
      eventsWebhookUrl: undefined,
      memoryMb: 10240,
      functionTimeoutSeconds: 900,
      batchTimeoutSeconds: 14400,
      batchRunnableTimeoutSeconds: 3600,
      batchGpuMemoryMb: 24_576,
      tilesStateMachineArn: undefined,
      maxJobGbSeconds: 200_000,
    });
  });

  it('reads the environment of the contract', () => {
    const config = readPipelineConfig({
      NST_WEIGHTS_DIR: '/opt/vgg19',
      NST_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t',
      NST_BATCH_JOB_QUEUE: 'q',
      NST_BATCH_JOB_DEFINITION: 'd',
      NST_ENGINE: 'onnx',
      NST_THREADS: '6',
      NST_DEADLINE_MARGIN_SECONDS: '90',
      NST_MAX_PIXELS: '1000000',
      NST_MAX_INPUT_BYTES: '1048576',
      NST_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      NST_EVENTS_WEBHOOK_URL: 'https://example.com/events',
      NST_EVENT_BUS: 'pipelines',
      NST_KEY_PREFIX: 'teams/art/',
      NST_FUNCTION_TIMEOUT_SECONDS: '600',
      NST_BATCH_TIMEOUT_SECONDS: '86400',
      NST_BATCH_RUNNABLE_TIMEOUT_SECONDS: '7200',
    });
    expect(config).toMatchObject({
      weightsDir: '/opt/vgg19',
      topicArn: 'arn:aws:sns:eu-west-1:1:t',
      batch: { jobQueue: 'q', jobDefinition: 'd' },
      engine: 'onnx',
      threads: 6,
      marginSeconds: 90,
      maxPixels: 1_000_000,
      maxInputBytes: 1_048_576,
      webhookUrl: 'http://127.0.0.1:9/hook',
      eventsWebhookUrl: 'https://example.com/events',
      eventBus: 'pipelines',
      keyPrefix: 'teams/art/',
      functionTimeoutSeconds: 600,
      batchTimeoutSeconds: 86_400,
      batchRunnableTimeoutSeconds: 7200,
    });
    // Batch needs both the queue and the definition.
    expect(readPipelineConfig({ NST_BATCH_JOB_QUEUE: 'q' }).batch).toBeUndefined();
  });

  it('names every bad variable', () => {
    expect(() => readPipelineConfig({ NST_ENGINE: 'gpu', NST_THREADS: 'many' })).toThrow(
      /NST_ENGINE[\s\S]*NST_THREADS/,
    );
    expect(() => readPipelineConfig({ NST_MAX_INPUT_BYTES: '0' })).toThrow(/NST_MAX_INPUT_BYTES/);
    expect(() => readPipelineConfig({ NST_EVENTS_WEBHOOK_URL: 'ftp://example.com/events' })).toThrow(
      /NST_EVENTS_WEBHOOK_URL: an http or https URL/,
    );
    expect(() => readPipelineConfig({ NST_KEY_PREFIX: 'art' })).toThrow(
      /NST_KEY_PREFIX: '' or folders ending in '\/'/,
    );
  });
});
