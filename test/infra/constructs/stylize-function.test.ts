import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { afterAll, describe, expect, it } from 'vitest';
import { PipelineLayers } from '../../../infra/constructs/layers.js';
import { StylizeFunction } from '../../../infra/constructs/stylize-function.js';
import { bareStack, type Cfn, resourcesOfType } from '../helpers.js';

describe('StylizeFunction defaults', () => {
  const { stack, layers, dispose } = bareStack();
  const stylize = new StylizeFunction(stack, 'Stylize', {
    bucket: new s3.Bucket(stack, 'Bucket'),
    topic: new sns.Topic(stack, 'Topic'),
    layers: new PipelineLayers(stack, 'Layers', { dirs: layers }),
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('are the ones documented: nst-stylize, 10 GB, 15 minutes, x86_64, unreserved, 30 days of logs', () => {
    const fnId = stack.getLogicalId(stylize.function.node.defaultChild as never);
    const fn = resourcesOfType(template, 'AWS::Lambda::Function')[fnId].Properties as Cfn;
    expect(fn).toMatchObject({
      FunctionName: 'nst-stylize',
      MemorySize: 10240,
      Timeout: 900,
      Architectures: ['x86_64'],
    });
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    expect(Object.keys(fn.Environment.Variables)).not.toContain('NST_BATCH_JOB_QUEUE');
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});
