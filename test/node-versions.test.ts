/**
 * One Node.js major for what is deployed, everywhere it is written down: the Lambda runtime and bundle
 * target, the Batch image, the CI run, package.json's engines and the tests' Node 22 helper.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../infra/paths.js';
import { DEPLOYED_NODE_MAJOR } from './helpers/node22.js';
import { resourcesOfType, synthesise } from './infra/helpers.js';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('the deployed Node.js version', () => {
  const synthesised = synthesise();
  afterAll(() => synthesised.dispose());

  it('is the Lambda runtime', () => {
    const functions = resourcesOfType(synthesised.template, 'AWS::Lambda::Function');
    const stylize = Object.values(functions).find((fn) => fn.Properties.FunctionName === 'nst-stylize');
    expect(stylize?.Properties.Runtime).toBe(`nodejs${DEPLOYED_NODE_MAJOR}.x`);
    expect(read('infra/constructs/stylize-function.ts')).toContain(`target: 'node${DEPLOYED_NODE_MAJOR}'`);
  });

  it('is the Batch image', () => {
    expect(read('functions/batch/Dockerfile')).toMatch(
      new RegExp(`^ARG NODE_VERSION=${DEPLOYED_NODE_MAJOR}\\.\\d+\\.\\d+$`, 'm'),
    );
  });

  it('is tested in CI, besides the machine Node, and supported by engines', () => {
    expect(read('.ci/run')).toContain(`--package=node@${DEPLOYED_NODE_MAJOR} -- npm test`);
    const engines = JSON.parse(read('package.json')).engines.node as string;
    expect(engines.split('||').map((range) => range.trim().match(/^\^(\d+)\./)?.[1])).toEqual([
      '20',
      String(DEPLOYED_NODE_MAJOR),
    ]);
  });
});
