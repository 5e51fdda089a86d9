/**
 * The stylize function's two Lambda layers, made from folders built before synth (infra/layer-cache.ts):
 * the native runtime (the packages the function bundle leaves out) and the VGG-19 weights, which Lambda
 * mounts where the handler's weights lookup finds them.
 */
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { RUNTIME_PACKAGES } from '../../layers/runtime/build.js';
import { LAMBDA_WEIGHTS_DIR } from '../../src/weights/lookup.js';
import { DEFAULT_CONFIG, type NstConfig } from '../config.js';
import { LAMBDA_NODE_RUNTIME } from '../node-runtime.js';

/** The built layer folders. */
export interface LayerDirs {
  /** A folder with `nodejs/node_modules/` (layers/runtime/build.ts). */
  readonly runtime: string;
  /** A folder with `vgg19/` (layers/vgg19/build.ts). */
  readonly vgg19: string;
}

export const lambdaArchitecture = (name: NstConfig['architecture']) =>
  name === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;

export interface PipelineLayersProps {
  /** The folders the layers are made from. */
  readonly dirs: LayerDirs;
  /**
   * The architecture of the runtime layer's binaries, and so of the function that uses it.
   * @default x86_64 (DEFAULT_CONFIG.architecture)
   */
  readonly architecture?: lambda.Architecture;
}

export class PipelineLayers extends Construct {
  readonly runtime: lambda.LayerVersion;
  readonly vgg19: lambda.LayerVersion;
  readonly architecture: lambda.Architecture;
  /** The packages the runtime layer provides (/opt/nodejs/node_modules): the bundle leaves them out. */
  readonly runtimePackages: readonly string[] = RUNTIME_PACKAGES;
  /** Where the function finds the weights. */
  readonly weightsDir = LAMBDA_WEIGHTS_DIR;

  constructor(scope: Construct, id: string, props: PipelineLayersProps) {
    super(scope, id);
    this.architecture = props.architecture ?? lambdaArchitecture(DEFAULT_CONFIG.architecture);
    this.runtime = new lambda.LayerVersion(this, 'Runtime', {
      description: `${RUNTIME_PACKAGES.join(' and ')} for linux ${this.architecture.name}`,
      code: lambda.Code.fromAsset(props.dirs.runtime),
      compatibleRuntimes: [LAMBDA_NODE_RUNTIME],
      compatibleArchitectures: [this.architecture],
    });
    this.vgg19 = new lambda.LayerVersion(this, 'Vgg19', {
      description: `VGG-19 conv1_1..conv5_1 weights at ${LAMBDA_WEIGHTS_DIR}`,
      code: lambda.Code.fromAsset(props.dirs.vgg19),
      compatibleArchitectures: [lambda.Architecture.X86_64, lambda.Architecture.ARM_64],
    });
  }

  /** Both layers, in the order the function lists them. */
  get layers(): lambda.ILayerVersion[] {
    return [this.runtime, this.vgg19];
  }
}
