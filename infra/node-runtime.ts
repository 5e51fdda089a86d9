/**
 * The one home of the deployed Node.js major: the Lambda runtime, the bundle's esbuild target, and the
 * major the tests run the deployed artefacts on (test/helpers/deployed-node.ts). What cannot import it (the
 * Batch Dockerfile, .ci/run, package.json's engines) is checked against it by test/node-versions.test.ts.
 */
import * as lambda from 'aws-cdk-lib/aws-lambda';

export const DEPLOYED_NODE_MAJOR = 24;

/** The stylize function's runtime (and the runtime layer's): `nodejs${DEPLOYED_NODE_MAJOR}.x`. */
export const LAMBDA_NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** esbuild's target for the function bundle. */
export const ESBUILD_NODE_TARGET = `node${DEPLOYED_NODE_MAJOR}`;
