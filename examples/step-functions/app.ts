/**
 * The example workflow's CDK app: `npx cdk deploy --app 'npx tsx examples/step-functions/app.ts'`, then
 * start an execution with a spec (the photo and painting uploaded under art/assets/ and art/styles/):
 *
 *   aws stepfunctions start-execution --state-machine-arn <StyliseThenCopy's ARN> \
 *     --input '{"content":"assets/harbour.jpg","styles":[{"key":"styles/starry.jpg"}],"options":{"size":768}}'
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildLayers, DEFAULT_CONFIG } from '../../infra/cdk.js';
import { StyliseThenCopyStack } from './workflow-stack.js';

const app = new App();
new StyliseThenCopyStack(app, 'StyliseThenCopy', { layers: await buildLayers(DEFAULT_CONFIG) });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
