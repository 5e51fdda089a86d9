/**
 * One Node.js major for what is deployed. infra/node-runtime.ts is its home (the Lambda runtime, the
 * bundle's target, the tests' deployed-Node helper import it); this checks what cannot import it: the Batch
 * image, the CI run, package.json's engines, and the runtimes in the synthesised template.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEPLOYED_NODE_MAJOR, ESBUILD_NODE_TARGET, LAMBDA_NODE_RUNTIME } from '../infra/node-runtime.js';
import { REPO_ROOT } from '../infra/paths.js';
import { SUPPORTED_NODE, SUPPORTED_NODE_RANGE } from '../src/cli/node-support.js';
import { PIPELINE_ENV } from '../src/jobs/config.js';
import { resourcesOfType, synthesise } from './infra/helpers.js';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

describe('the deployed Node.js version', () => {
  const synthesised = synthesise();
  afterAll(() => synthesised.dispose());

  it('is one major in infra/node-runtime.ts: the Lambda runtime and the bundle target', () => {
    expect(LAMBDA_NODE_RUNTIME.name).toBe(`nodejs${DEPLOYED_NODE_MAJOR}.x`);
    expect(ESBUILD_NODE_TARGET).toBe(`node${DEPLOYED_NODE_MAJOR}`);
  });

  it("is every function of ours in the template (CDK's own deploy-time handlers pick theirs)", () => {
    const functions = Object.entries(resourcesOfType(synthesised.template, 'AWS::Lambda::Function'));
    // Ours carry the pipeline's settings (the stylize function; the sweep and the dead letters are it).
    const ours = functions.filter(([, fn]) => fn.Properties.Environment?.Variables?.[PIPELINE_ENV.engine]);
    expect(ours.map(([, fn]) => fn.Properties.FunctionName)).toEqual(['nst-stylize']);
    for (const [id, fn] of ours) expect(fn.Properties.Runtime, id).toBe(LAMBDA_NODE_RUNTIME.name);
    const others = functions.filter(([, fn]) => !fn.Properties.Environment?.Variables?.[PIPELINE_ENV.engine]);
    console.log(
      `Lambda runtimes: ours ${ours.map(([, fn]) => fn.Properties.Runtime).join(', ')}; CDK's own ` +
        (others.map(([id, fn]) => `${id} ${fn.Properties.Runtime}`).join(', ') || 'none'),
    );
  });

  it('is the Batch image', () => {
    expect(read('functions/batch/Dockerfile')).toMatch(
      new RegExp(`^ARG NODE_VERSION=${DEPLOYED_NODE_MAJOR}\\.\\d+\\.\\d+$`, 'm'),
    );
  });

  it('is tested in CI, besides the machine Node, and supported by engines from the oldest supported major on', () => {
    const ci = read('.ci/run');
    expect(ci).toContain(`--package=node@${DEPLOYED_NODE_MAJOR} -- node`);
    expect(ci).toContain(`startsWith("${DEPLOYED_NODE_MAJOR}.")`);
    expect(ci).toMatch(/^PATH="\$\(dirname "\$deployed_node"\):\$PATH" npm test$/m);
    // engines is the range the CLI calls supported, and it includes the deployed major.
    expect(JSON.parse(read('package.json')).engines.node).toBe(SUPPORTED_NODE_RANGE);
    expect(SUPPORTED_NODE.fromMajor).toBeLessThanOrEqual(DEPLOYED_NODE_MAJOR);
  });
});
