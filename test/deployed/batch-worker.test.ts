/**
 * The Batch worker, run as its container runs it: the image's file system laid out from the Dockerfile
 * without Docker (its COPYs from the build context, node_modules as its `npm ci` leaves it; the weights
 * it fetches at build time from ../shared, or generated), the environment the job definition in the
 * synthesised template sets plus the Dockerfile's ENV and the router's SubmitJob overrides, the entry
 * point on Node 24 as the image's USER, in a fresh root that holds nothing of this checkout
 * (test/helpers/container.ts). A real hand-over: the stylize handler, in process against a local S3
 * server, routes a job to Batch (its SubmitJob captured); the worker finds the job through the SDK's
 * standard endpoint variables (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL_EVENTBRIDGE) and
 * finishes it.
 *
 * The GPU: the image's onnxruntime-node has the CUDA provider; this layout has only the CPU one, so the
 * job runs on the CPU and job.json says so (engine backend `onnx-cpu`; `onnx-cuda` on a GPU).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYED_NODE_MAJOR } from '../../infra/node-runtime.js';
import { BATCH_IMAGE } from '../../infra/paths.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { BATCH_JOB_ENV, PIPELINE_ENV } from '../../src/jobs/config.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/storage/s3-client.js';
import { writeWeights } from '../../src/weights/store.js';
import { layOutImage } from '../helpers/batch-image.js';
import { type ContainerRun, runContainer, whyNoContainers } from '../helpers/container.js';
import { deployedNode } from '../helpers/deployed-node.js';
import { type Dockerfile, readDockerfile } from '../helpers/dockerfile.js';
import { type EventsStandIn, startEventsStandIn } from '../helpers/events-stand-in.js';
import { type Resources, templateResolver } from '../helpers/lambda-template.js';
import { BUCKET, readJson, type S3Harness, startS3 } from '../helpers/local-s3.js';
import { SHARED_WEIGHTS } from '../helpers/shared.js';
import { type SnsStandIn, startSnsStandIn } from '../helpers/sns-stand-in.js';
import { type Cfn, only, synthesise } from '../infra/helpers.js';
import { captured, imageSize, jpeg, lambdaContext, png, testHandler } from '../integration/harness.js';

const ACCOUNT = '123456789012';
const BATCH_JOB_ID = 'batch-job-1';
/** One 64 px scale, 4 iterations: a few seconds on the CPU. */
const SMALL = { 'nst-size': '64', 'nst-min-size': '64', 'nst-iterations': '4' };
/** Where the Node binary sits inside (on PATH before the system's, as the image's /usr/local/bin). */
const NODE_INSIDE = '/node/bin/node';

interface Deployed {
  /** The job definition's container environment. */
  readonly jobEnv: Record<string, string>;
  /** The stylize function's environment (it names the queue and definition it submits to). */
  readonly functionEnv: Record<string, string>;
  readonly jobDefinitionArn: string;
}

/** What the synthesised stack sets (placeholder layers: only the template matters here). */
function deployed(): Deployed {
  const synth = synthesise();
  try {
    const resources = synth.template.toJSON().Resources as Resources;
    const standIn = templateResolver(resources, synth.stack.stackName, {
      account: ACCOUNT,
      region: LOCAL_REGION,
    });
    const definition = only(synth.template, 'AWS::Batch::JobDefinition');
    const jobEnv = Object.fromEntries(
      (definition.properties.ContainerProperties.Environment as { Name: string; Value: Cfn }[]).map((e) => [
        e.Name,
        standIn(e.Value),
      ]),
    );
    // The stylize function: the one whose environment is the pipeline's.
    const fn = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.[PIPELINE_ENV.engine],
    )!;
    const functionEnv = Object.fromEntries(
      Object.entries(fn.Properties.Environment.Variables as Record<string, Cfn>).map(([k, v]) => [
        k,
        standIn(v),
      ]),
    );
    const jobDefinitionArn = standIn({ Ref: definition.id });
    return { jobEnv, functionEnv, jobDefinitionArn };
  } finally {
    synth.dispose();
  }
}

const noContainers = await whyNoContainers();
if (noContainers) console.log(`batch-worker container test skipped: ${noContainers}`);

let tmp: string;
let dockerfile: Dockerfile;
let image: ReturnType<typeof layOutImage>;
let weights: string;
let node: string;
let stack: Deployed;
let h: S3Harness;
let sns: SnsStandIn;
let bus: EventsStandIn;

beforeAll(async () => {
  if (noContainers) return;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'nst-batch-image-'));
  dockerfile = readDockerfile();
  const laidOut = performance.now();
  image = layOutImage(dockerfile, path.join(tmp, 'image'));
  const real = existsSync(path.join(SHARED_WEIGHTS, 'weights.json'));
  weights = real ? SHARED_WEIGHTS : path.join(tmp, 'weights');
  if (!real) await writeWeights(weights, generateVggWeights(3));
  console.log(
    `image laid out in ${((performance.now() - laidOut) / 1000).toFixed(2)} s: ${image.packages.length} packages ` +
      `(${image.skippedOptional.length} optional ones not installed here either), ${real ? 'real' : 'generated'} weights`,
  );
  stack = deployed();
  [node, h, sns, bus] = await Promise.all([
    deployedNode(),
    startS3(),
    startSnsStandIn(),
    startEventsStandIn(),
  ]);
});

afterAll(async () => {
  await h?.close();
  await sns?.close();
  await bus?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The environment the container starts with: the image's, the job definition's, then SubmitJob's. */
function containerEnv(overrides: { name: string; value: string }[]): Record<string, string> {
  return {
    // Docker: the image's PATH (Node first, where the image installs it) and HOME for a uid without a name.
    PATH: `${path.posix.dirname(NODE_INSIDE)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: '/',
    ...dockerfile.env,
    ...stack.jobEnv,
    ...Object.fromEntries(overrides.map((o) => [o.name, o.value])),
    // AWS Batch and ECS: the job's id and attempt, the region; the job role's credentials are S3RVER's here.
    AWS_BATCH_JOB_ID: BATCH_JOB_ID,
    AWS_BATCH_JOB_ATTEMPT: '1',
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    // The SDK's standard endpoint variables: any S3-compatible server, SNS and EventBridge stand-ins.
    AWS_ENDPOINT_URL_S3: h.s3.endpoint,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
  };
}

/** The image's entry point (or `command`) in its container. */
function runWorker(env: Record<string, string>, command = dockerfile.entrypoint): Promise<ContainerRun> {
  const user = dockerfile.user ?? { uid: 0, gid: 0 };
  return runContainer({
    rootfs: path.join(tmp, 'rootfs'),
    mounts: [
      { from: image.workdir, at: dockerfile.workdir },
      { from: weights, at: dockerfile.weightsDir! },
      { from: node, at: NODE_INSIDE },
    ],
    workdir: dockerfile.workdir,
    uid: user.uid,
    gid: user.gid,
    env,
    command,
    timeoutMs: 90_000,
  });
}

const logOf = (run: ContainerRun) => `exit ${run.code}\n${run.stdout}\n${run.stderr}`;

describe.skipIf(noContainers !== undefined)('the Batch worker in its container', () => {
  it('is laid out from the Dockerfile: its production dependencies only, nothing of the checkout', async () => {
    expect(dockerfile.user?.uid).not.toBe(0);
    // Nothing is transpiled at run time: the image runs dist/ and has no tsx (a devDependency).
    expect(image.packages).not.toContain('node_modules/tsx');
    expect(image.packages).not.toContain('node_modules/vitest'); // a devDependency: the model can fail
    // The Dockerfile's `rm -rf node_modules/@tensorflow/tfjs-node` applied: gone from the list and the image.
    expect(image.packages).not.toContain('node_modules/@tensorflow/tfjs-node');
    expect(existsSync(path.join(image.workdir, 'node_modules/@tensorflow/tfjs-node'))).toBe(false);
    // What onnxruntime-node's CUDA install script needs at build time is installed.
    expect(image.packages).toEqual(
      expect.arrayContaining(['node_modules/global-agent', 'node_modules/adm-zip']),
    );
    const probe = await runWorker(containerEnv([]), [
      'node',
      '-e',
      `const fs = require('node:fs');
       let writable = true; try { fs.writeFileSync('x', ''); } catch { writable = false; }
       console.log(JSON.stringify({ node: process.versions.node, uid: process.getuid(), cwd: process.cwd(), writable,
         repo: fs.existsSync(${JSON.stringify(BATCH_IMAGE.directory)}), weights: fs.existsSync(process.env.NST_WEIGHTS_DIR + '/weights.json') }));`,
    ]);
    expect(probe.code, logOf(probe)).toBe(0);
    expect(JSON.parse(probe.stdout)).toEqual({
      node: expect.stringMatching(new RegExp(`^${DEPLOYED_NODE_MAJOR}\\.`)),
      uid: dockerfile.user!.uid,
      cwd: dockerfile.workdir,
      writable: false,
      repo: false,
      weights: true,
    });
  });

  it('runs a job the router handed to Batch, through the standard endpoint variables', async () => {
    await h.store.put('styles/starry.png', await png(64, 64, 5));
    const event = await h.upload('inputs/starry/batch.jpg', await jpeg(80, 64), SMALL);
    const batch = captured.batch();
    // The function's own settings from the template (its weights layer's folder is ours here); 60.5 s
    // left leaves too little time for the job in the function.
    const handler = testHandler(weights, {
      env: { ...stack.functionEnv, [PIPELINE_ENV.weightsDir]: weights },
      s3: h.s3.client,
      sns: captured.sns().client,
      eventBridge: captured.eventBridge().client,
      batch: batch.client,
    });
    const [outcome] = await handler(
      event,
      lambdaContext(() => 60_500),
    );
    expect(outcome, JSON.stringify(outcome)).toMatchObject({
      status: 'queued',
      detail: `batch ${BATCH_JOB_ID}`,
    });
    const jobId = outcome.jobId!;
    expect(batch.calls).toHaveLength(1);
    const submit = batch.calls[0].input as {
      jobDefinition: string;
      containerOverrides: { environment: { name: string; value: string }[] };
    };
    expect(submit.jobDefinition).toBe(stack.jobDefinitionArn);

    const run = await runWorker(containerEnv(submit.containerOverrides.environment));
    expect(run.code, logOf(run)).toBe(0);
    const done = await readJson<JobManifest>(h.store, `outputs/${jobId}/job.json`);
    expect(done, logOf(run)).toMatchObject({
      status: 'succeeded',
      route: { worker: 'batch' },
      engine: { kind: 'onnx', backend: 'onnx-cpu' },
      output: { key: `outputs/${jobId}/result.jpg`, width: 64 },
    });
    // Stored through the SDK's default checksums, read back whole: the result decodes at its size.
    expect(await imageSize(h.store, `outputs/${jobId}/result.jpg`)).toEqual({
      width: 64,
      height: 51,
      format: 'jpeg',
    });
    expect(sns.messages).toHaveLength(1);
    expect(sns.messages[0]).toMatchObject({ topicArn: stack.jobEnv[PIPELINE_ENV.topicArn] });
    expect(JSON.parse(sns.messages[0].message)).toMatchObject({ jobId, status: 'succeeded' });
    // The function handed the job over before any run, so the worker's run is its first: both events.
    expect(bus.events.map((e) => [e.EventBusName, e.DetailType])).toEqual([
      [stack.jobEnv[PIPELINE_ENV.eventBus], 'Style Transfer Job Started'],
      [stack.jobEnv[PIPELINE_ENV.eventBus], 'Style Transfer Job Succeeded'],
    ]);
    expect(JSON.parse(bus.events[1].Detail)).toEqual(JSON.parse(sns.messages[0].message));

    const ran = done.history.findLast((t) => t.status === 'running')!;
    const jobSeconds = (Date.parse(done.timings.finishedAt!) - Date.parse(ran.at)) / 1000;
    console.log(
      `batch worker (Node ${DEPLOYED_NODE_MAJOR}, ${done.engine!.backend}, uid ${dockerfile.user!.uid}): start to exit ${run.seconds.toFixed(2)} s; ` +
        `job ${jobSeconds.toFixed(2)} s (running to succeeded; phases over both runs: fetch ${done.timings.phases.fetch} s, ` +
        `stylize ${done.timings.phases.stylize} s, store ${done.timings.phases.store} s)`,
    );
  });

  it('exits 2 naming the variables when SubmitJob did not name the job', async () => {
    const env = containerEnv([{ name: BATCH_JOB_ENV.bucket, value: BUCKET }]);
    const run = await runWorker(env);
    expect(run.code, logOf(run)).toBe(2);
    const lines = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; message: string });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: `${BATCH_JOB_ENV.bucket} and ${BATCH_JOB_ENV.jobId} must name the job to run`,
      }),
    );
    console.log(`batch worker without ${BATCH_JOB_ENV.jobId}: exit 2 in ${run.seconds.toFixed(2)} s`);
  });
});
