import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { lambdaArchitecture, PipelineLayers } from '../../../infra/constructs/layers.js';
import { LAMBDA_NODE_RUNTIME } from '../../../infra/node-runtime.js';
import { RUNTIME_PACKAGES } from '../../../layers/runtime/build.js';
import { LAMBDA_WEIGHTS_DIR } from '../../../src/weights/lookup.js';
import { bareStack, resourcesOfType } from '../helpers.js';

describe('PipelineLayers', () => {
  const { stack, layers: dirs, dispose } = bareStack();
  const layers = new PipelineLayers(stack, 'Layers', { dirs });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('defaults to x86_64 and tells the function what the layers provide and where', () => {
    expect(layers.architecture).toBe(lambda.Architecture.X86_64);
    expect(layers.layers).toEqual([layers.runtime, layers.vgg19]);
    expect(layers.runtimePackages).toEqual(RUNTIME_PACKAGES);
    expect(layers.weightsDir).toBe(LAMBDA_WEIGHTS_DIR);
    expect(
      Object.values(resourcesOfType(template, 'AWS::Lambda::LayerVersion')).map((l) => l.Properties),
    ).toEqual([
      expect.objectContaining({
        Description: 'onnxruntime-node and sharp for linux x86_64',
        CompatibleArchitectures: ['x86_64'],
        CompatibleRuntimes: [LAMBDA_NODE_RUNTIME.name],
      }),
      expect.objectContaining({
        Description: 'VGG-19 conv1_1..conv5_1 weights at /opt/vgg19',
        CompatibleArchitectures: ['x86_64', 'arm64'],
      }),
    ]);
  });

  it('maps the config architecture names to Lambda architectures', () => {
    expect(lambdaArchitecture('x86_64')).toBe(lambda.Architecture.X86_64);
    expect(lambdaArchitecture('arm64')).toBe(lambda.Architecture.ARM_64);
  });
});
