/**
 * The GPU path on its own: the construct's documented defaults, and the Dockerfile bound to what infra
 * knows (it cannot import it): what it copies or runs is in the build context, what it sets is the contract.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_ENGINE, BatchGpu, gpuMemoryMb } from '../../../infra/constructs/batch-gpu.js';
import { REPO_ROOT } from '../../../infra/paths.js';
import { NstError } from '../../../src/errors.js';
import { PIPELINE_ENV } from '../../../src/jobs/config.js';
import { contextPathOf, filesUnder, inBuildContext, readDockerfile } from '../../helpers/dockerfile.js';
import { bareStack, type Cfn, notificationTargets, only } from '../helpers.js';

describe('BatchGpu defaults', () => {
  const { stack, dispose } = bareStack();
  const gpu = new BatchGpu(stack, 'Gpu', {
    bucket: new s3.Bucket(stack, 'Bucket'),
    notifications: notificationTargets(stack),
    flowLogsBucket: new s3.Bucket(stack, 'FlowLogs'),
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('are the ones documented: nst names, g5/g6 on demand up to 16 vCPUs, 4 hours, 30 days of logs, a VPC', () => {
    template.hasResourceProperties('AWS::Batch::JobQueue', { JobQueueName: 'nst-gpu' });
    expect(gpu.jobTimeout.toSeconds()).toBe(240 * 60);
    expect(gpu.gpuMemoryMb).toBe(24_576);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      JobDefinitionName: 'nst-stylize-gpu',
      Timeout: { AttemptDurationSeconds: 240 * 60 },
    });
    const ce = only(template, 'AWS::Batch::ComputeEnvironment').properties as Cfn;
    expect(ce.ComputeResources).toMatchObject({
      Type: 'EC2',
      AllocationStrategy: 'BEST_FIT_PROGRESSIVE',
      InstanceTypes: ['g5', 'g6'],
      MaxvCpus: 16,
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.hasResourceProperties('AWS::EC2::FlowLog', { LogDestinationType: 's3' });
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        Environment: Match.arrayWith([
          { Name: PIPELINE_ENV.eventBus, Value: 'default' },
          { Name: PIPELINE_ENV.engine, Value: BATCH_ENGINE },
        ]),
      }),
    });
  });

  it('cancel jobs RUNNABLE for an hour without capacity or a fitting instance', () => {
    const queue = only(template, 'AWS::Batch::JobQueue').properties as Cfn;
    expect(queue.JobStateTimeLimitActions).toEqual([
      {
        Action: 'CANCEL',
        State: 'RUNNABLE',
        MaxTimeSeconds: 3600,
        Reason: 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY',
      },
      {
        Action: 'CANCEL',
        State: 'RUNNABLE',
        MaxTimeSeconds: 3600,
        Reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
      },
    ]);
  });
});

describe('BatchGpu settings', () => {
  const { stack, dispose } = bareStack();
  const gpu = new BatchGpu(stack, 'Gpu', {
    bucket: new s3.Bucket(stack, 'Bucket'),
    notifications: notificationTargets(stack),
    flowLogsBucket: new s3.Bucket(stack, 'FlowLogs'),
    instanceTypes: ['g6e', 'g4dn.xlarge'],
    jobTimeout: Duration.minutes(30),
    runnableTimeout: Duration.minutes(10),
  });
  const template = Template.fromStack(stack);
  afterAll(dispose);

  it('set the RUNNABLE limit, the job timeout, and the GPU memory of the smallest family', () => {
    const queue = only(template, 'AWS::Batch::JobQueue').properties as Cfn;
    expect(queue.JobStateTimeLimitActions.map((a: Cfn) => a.MaxTimeSeconds)).toEqual([600, 600]);
    expect(gpu.jobTimeout.toSeconds()).toBe(1800);
    expect(gpu.gpuMemoryMb).toBe(16_384); // g4dn's T4, not g6e's L40S
  });
});

describe('gpuMemoryMb', () => {
  it('is the per-GPU memory of the families, the least of them, for families and sizes alike', () => {
    expect(gpuMemoryMb(['g5'])).toBe(24_576);
    expect(gpuMemoryMb(['g6.2xlarge', 'g5.12xlarge'])).toBe(24_576);
    expect(gpuMemoryMb(['p4d', 'g6e'])).toBe(40_960);
  });

  it('refuses a family it does not know, naming it and the known ones', () => {
    expect(() => gpuMemoryMb(['g5', 'x2idn.large'])).toThrow(NstError);
    expect(() => gpuMemoryMb(['g5', 'x2idn.large'])).toThrow(
      /instanceTypes: no GPU memory known for "x2idn\.large" \(families known: g4dn, g5, g6/,
    );
  });
});

describe('functions/batch/Dockerfile', () => {
  const dockerfile = readDockerfile();
  const { copies, scripts } = dockerfile;
  /** Repository paths the COPY instructions take from the build context. */
  const copied = copies.flatMap((c) => c.sources);

  it('copies only what exists and is in the build context', () => {
    expect(copied).toEqual(
      expect.arrayContaining(['package.json', 'bin', 'dist/src', 'dist/functions/batch']),
    );
    expect(inBuildContext(path.join(REPO_ROOT, 'README.md'))).toBe(false); // the check can fail
    for (const source of copied) {
      for (const file of filesUnder(source)) {
        expect(inBuildContext(file), path.relative(REPO_ROOT, file)).toBe(true);
      }
    }
  });

  it('runs scripts and an entry point that a COPY put in the image from the build context', () => {
    expect(scripts).toEqual([
      path.posix.join(dockerfile.workdir, 'bin/nst.js'),
      path.posix.join(dockerfile.workdir, 'dist/functions/batch/main.js'),
    ]);
    expect(contextPathOf(dockerfile, '/app/README.md')).toBeUndefined(); // the check can fail
    for (const script of scripts) {
      const source = contextPathOf(dockerfile, script);
      expect(source, `${script}: no COPY puts it in the image`).toBeDefined();
      expect(inBuildContext(source!), `${script}: ${path.relative(REPO_ROOT, source!)}`).toBe(true);
    }
  });

  it("fetches the CUDA provider with onnxruntime-node's own install script and fails the build without it", () => {
    const commands = dockerfile.runs.map((r) => r.command);
    const installAt = commands.findIndex((c) => c.includes('onnxruntime-node/script/install'));
    const install = commands[installAt]?.match(/^ONNXRUNTIME_NODE_INSTALL=cuda12 node (\S+)$/);
    expect(install, commands[installAt]).not.toBeNull();
    // The script exists in the package (node resolves `script/install` to install.js)...
    const script = path.join(REPO_ROOT, install![1]);
    expect(existsSync(`${script}.js`), install![1]).toBe(true);
    // ...and the checked file is one it writes: its BIN_FOLDER, a file of the linux/x64 cuda12 manifest.
    expect(readFileSync(`${script}.js`, 'utf8')).toContain(
      "const BIN_FOLDER = path.join(__dirname, '..', 'bin/napi-v6', PLATFORM);",
    );
    const metadata = createRequire(import.meta.url)(path.join(path.dirname(script), 'install-metadata.js'));
    const written = Object.keys(metadata.manifests['linux/x64:cuda12']).map((file) =>
      path.posix.join(path.posix.dirname(path.posix.dirname(install![1])), 'bin/napi-v6/linux/x64', file),
    );
    const check = commands[installAt + 1]?.match(/^test -f (\S+)$/)?.[1];
    expect(check).toBe(written.find((f) => f.endsWith('/libonnxruntime_providers_cuda.so')));
    // Its own dependencies (global-agent, adm-zip) are production ones: `npm ci --omit=dev` installs them.
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')).packages;
    for (const dep of Object.keys(lock['node_modules/onnxruntime-node'].dependencies)) {
      expect(lock[`node_modules/${dep}`], dep).not.toHaveProperty('dev');
    }
    // After `npm ci`, in its folder (the one package.json went to: paths relative to it are the checkout's).
    const ciAt = commands.findIndex((c) => c.startsWith('npm ci '));
    expect(ciAt).toBeGreaterThanOrEqual(0);
    expect(ciAt).toBeLessThan(installAt);
    expect(dockerfile.runs[installAt].dir).toBe(dockerfile.runs[ciAt].dir);
    expect(contextPathOf(dockerfile, path.posix.join(dockerfile.runs[ciAt].dir, 'package.json'))).toBe(
      path.join(REPO_ROOT, 'package.json'),
    );
  });

  it('sets contract variables by their contract names: the weights it fetched, the engine the job runs', () => {
    const contractNames = Object.values(PIPELINE_ENV) as string[];
    for (const name of Object.keys(dockerfile.env).filter((n) => n.startsWith('NST_'))) {
      expect(contractNames, name).toContain(name);
    }
    expect(dockerfile.weightsDir).toBeDefined();
    expect(dockerfile.env[PIPELINE_ENV.weightsDir]).toBe(dockerfile.weightsDir);
    expect(dockerfile.env[PIPELINE_ENV.engine]).toBe(BATCH_ENGINE);
  });
});
