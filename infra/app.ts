/**
 * The CDK app (cdk.json builds dist/ and runs the compiled copy, so the GPU image gets the code as it is):
 * reads the settings from context, builds the two Lambda layers (cached), defines the stack, and checks it
 * with cdk-nag's AWS Solutions rules, so `cdk synth` fails on any finding that is neither fixed nor
 * acknowledged with a reason.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from './config.js';
import { buildLayers } from './layer-cache.js';
import { NstStack } from './stack.js';

async function main(): Promise<void> {
  const app = new App();
  const config = readConfig(app.node);
  const layers = await buildLayers(config);
  new NstStack(app, config.stackName, {
    config,
    layers,
    description: 'Serverless neural style transfer: S3 -> Lambda (CPU) or AWS Batch (GPU) -> S3 + SNS',
    // A given VPC is looked up, which needs the account and region.
    env: config.vpcId
      ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
      : undefined,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
