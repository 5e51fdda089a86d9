import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { PipelineLayers } from '../../../infra/constructs/layers.js';
import { StylizeFunction } from '../../../infra/constructs/stylize-function.js';
import { PIPELINE_ENV } from '../../../src/jobs/config.js';
import { bareStack, type Cfn, notificationTargets, resourcesOfType } from '../helpers.js';

describe('StylizeFunction defaults', () => {
  const { stack, layers, dispose } = bareStack();
  const stylize = new StylizeFunction(stack, 'Stylize', {
    bucket: new s3.Bucket(stack, 'Bucket'),
    notifications: notificationTargets(stack),
    layers: new PipelineLayers(stack, 'Layers', { dirs: layers }),
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);

  it('are the ones documented: nst-stylize, 10 GB, 15 minutes, x86_64, 10 reserved, 30 days of logs', () => {
    const fnId = id(stylize.function);
    const fn = resourcesOfType(template, 'AWS::Lambda::Function')[fnId].Properties as Cfn;
    expect(fn).toMatchObject({
      FunctionName: 'nst-stylize',
      MemorySize: 10240,
      Timeout: 900,
      Architectures: ['x86_64'],
    });
    expect(fn.ReservedConcurrentExecutions).toBe(10);
    expect(fn.Environment.Variables[PIPELINE_ENV.memoryMb]).toBe('10240');
    expect(fn.Environment.Variables[PIPELINE_ENV.functionTimeoutSeconds]).toBe('900');
    for (const name of [
      PIPELINE_ENV.batchJobQueue,
      PIPELINE_ENV.batchTimeoutSeconds,
      PIPELINE_ENV.batchRunnableTimeoutSeconds,
      PIPELINE_ENV.batchGpuMemoryMb,
    ]) {
      expect(Object.keys(fn.Environment.Variables)).not.toContain(name);
    }
    expect(fn.DeadLetterConfig).toEqual({
      TargetArn: { 'Fn::GetAtt': [id(stylize.deadLetterQueue), 'Arn'] },
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('StylizeFunction settings', () => {
  const { stack, layers, dispose } = bareStack();
  const stylize = new StylizeFunction(stack, 'Stylize', {
    bucket: new s3.Bucket(stack, 'Bucket'),
    notifications: notificationTargets(stack),
    layers: new PipelineLayers(stack, 'Layers', { dirs: layers }),
    memorySize: 3008,
    timeout: Duration.seconds(120),
    reservedConcurrency: false,
    batch: {
      jobQueueArn: 'arn:aws:batch:eu-west-1:123456789012:job-queue/q',
      jobDefinitionArn: 'arn:aws:batch:eu-west-1:123456789012:job-definition/d:1',
      jobDefinitionName: 'd',
      jobTimeout: Duration.minutes(90),
      runnableTimeout: Duration.hours(20),
      gpuMemoryMb: 16_384,
    },
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('tell the runtime its memory and timeout, the GPU job timeout, RUNNABLE limit and GPU memory; false reserves nothing', () => {
    const fnId = stack.getLogicalId(stylize.function.node.defaultChild as never);
    const fn = resourcesOfType(template, 'AWS::Lambda::Function')[fnId].Properties as Cfn;
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn.Environment.Variables).toMatchObject({
      [PIPELINE_ENV.memoryMb]: '3008',
      [PIPELINE_ENV.functionTimeoutSeconds]: '120',
      [PIPELINE_ENV.batchTimeoutSeconds]: '5400',
      [PIPELINE_ENV.batchRunnableTimeoutSeconds]: '72000',
      [PIPELINE_ENV.batchGpuMemoryMb]: '16384',
    });
    const dlqId = stack.getLogicalId(stylize.deadLetterQueue.node.defaultChild as never);
    expect(template.toJSON().Resources[dlqId].Properties.VisibilityTimeout).toBe(6 * 120);
  });
});
