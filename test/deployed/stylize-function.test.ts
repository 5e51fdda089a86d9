/**
 * The stylize function as `cdk deploy` ships it, run as Lambda runs it: the code and layer assets of the
 * synthesised cloud assembly (test/helpers/cdk-synth.ts, the synth test/infra/app.test.ts checks) laid out
 * at /var/task and /opt with Lambda's environment and the template's variables, on Node 24, in a fresh
 * root that holds nothing of the repository checkout (test/helpers/lambda-runtime.ts). The function reaches a real local S3 server
 * and stand-in SNS and EventBridge endpoints through the SDK's standard endpoint variables. Three S3 events in one warm
 * container: a good 64 px job (the cold start), a corrupt upload, and a second good job (warm) whose
 * record is written by hand as the stack's versioned bucket sends it (with a versionId). The app is synthesised
 * with a key prefix, so the keys are under art/.
 */
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { S3Event } from 'aws-lambda';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYED_NODE_MAJOR, LAMBDA_NODE_RUNTIME } from '../../infra/node-runtime.js';
import { REPO_ROOT } from '../../infra/paths.js';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/storage/s3-client.js';
import { STACK, type SynthesisedApp, synthesisedApp } from '../helpers/cdk-synth.js';
import { whyNoContainers } from '../helpers/container.js';
import { deployedNode } from '../helpers/deployed-node.js';
import { type EventsStandIn, startEventsStandIn } from '../helpers/events-stand-in.js';
import { type LambdaRun, runLikeLambda } from '../helpers/lambda-runtime.js';
import { type DeployedFunction, deployedFunction } from '../helpers/lambda-template.js';
import { readJson, type S3Harness, startS3 } from '../helpers/local-s3.js';
import { SHARED, SHARED_IMAGES } from '../helpers/shared.js';
import { type SnsStandIn, startSnsStandIn } from '../helpers/sns-stand-in.js';

const ACCOUNT = '123456789012';
/** One 64 px scale, a few iterations: a job of a few seconds on 2 cores. */
const SMALL_JOB = { 'nst-size': '64', 'nst-min-size': '64', 'nst-iterations': '10' };
/**
 * The app is synthesised with a key prefix (`-c keyPrefix=art/`), as a pipeline sharing a bucket is: the
 * function gets whole keys in its events and keeps the pipeline's keys, relative to the prefix, in job.json.
 */
const PREFIX = 'art/';
const objectKey = (key: string) => `${PREFIX}${key}`;
/** Keys as users name files: spaces and a plus sign, which event records encode as `+` and `%2B`. */
const KEYS = {
  cold: 'inputs/starry/my photo+1.jpg',
  corrupt: 'inputs/starry/not an image.jpg',
  warm: 'inputs/starry/warm photo.jpg',
};
const WARM_VERSION = '096fKKXTRTtl3on89fVO.nfljtsv6qko';

const noContainers = await whyNoContainers();
if (noContainers) console.log(`deployed-function test skipped: ${noContainers}`);

let app: SynthesisedApp;
let fn: DeployedFunction;
let s3: S3Harness;
let sns: SnsStandIn;
let bus: EventsStandIn;
let events: Record<keyof typeof KEYS, S3Event>;
let run: LambdaRun;
let runSeconds: number;

beforeAll(async () => {
  if (noContainers) return;
  [app, s3, sns, bus] = await Promise.all([
    synthesisedApp({ keyPrefix: PREFIX }),
    startS3({ keyPrefix: PREFIX }),
    startSnsStandIn(),
    startEventsStandIn(),
  ]);
  fn = deployedFunction(app.out, STACK, 'nst-stylize', { account: ACCOUNT, region: LOCAL_REGION });
  const photo = await readFile(path.join(SHARED_IMAGES, 'content/tubingen.jpg'));
  const painting = await readFile(path.join(SHARED_IMAGES, 'style/starry_night.jpg'));
  await s3.store.put('styles/starry.jpg', painting);
  events = {
    cold: await s3.upload(KEYS.cold, photo, SMALL_JOB),
    corrupt: await s3.upload(KEYS.corrupt, 'these bytes are not an image\n'.repeat(20)),
    warm: await uploadVersioned(KEYS.warm, photo, SMALL_JOB),
  };
  const started = performance.now();
  run = await runLikeLambda({
    fn,
    node: await deployedNode(),
    events: [events.cold, events.corrupt, events.warm],
    env: {
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      // By name, as LocalStack's and MinIO's endpoints are: the client must address it path-style.
      AWS_ENDPOINT_URL_S3: s3.s3.endpoint.replace('127.0.0.1', 'localhost'),
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      // Any other service (Batch, Lambda) would be a bug here: nowhere to go.
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    },
    absent: checkoutPaths(),
    timeoutMs: 90_000,
  });
  runSeconds = (performance.now() - started) / 1000;
  await printFigures();
}, 240_000);

afterAll(async () => {
  await Promise.all([s3?.close(), sns?.close(), bus?.close()]);
});

/**
 * Uploads `key` and returns the record S3 sends for it from a versioned bucket (the stack's), written by
 * hand after the examples in S3's documentation. The local server keeps no versions and serves the
 * current object for any versionId.
 */
async function uploadVersioned(
  key: string,
  body: Buffer,
  metadata: Record<string, string>,
): Promise<S3Event> {
  const etag = await s3.store.put(key, body, { metadata });
  const { bucket } = s3.s3;
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: LOCAL_REGION,
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:AIDAJDPLRKLG7UEXAMPLE' },
        requestParameters: { sourceIPAddress: '203.0.113.7' },
        responseElements: {
          'x-amz-request-id': 'C3D13FE58DE4C810',
          'x-amz-id-2': 'FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD',
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'StylizeFunctionS3Notification',
          bucket: {
            name: bucket,
            ownerIdentity: { principalId: 'A3NL1KOZZKEXAMPLE' },
            arn: `arn:aws:s3:::${bucket}`,
          },
          object: {
            key: objectKey('inputs/starry/warm+photo.jpg'),
            size: body.length,
            eTag: etag.replace(/"/g, ''),
            versionId: WARM_VERSION,
            sequencer: '0055AED6DCD90281E5',
          },
        },
      },
    ],
  };
}

/** The checkout, the node_modules it links to, and ../shared (the weights must come from the layer). */
function checkoutPaths(): string[] {
  const modules = realpathSync(path.join(REPO_ROOT, 'node_modules'));
  const outside = modules.startsWith(REPO_ROOT + path.sep) ? [] : [modules];
  return [REPO_ROOT, ...outside, SHARED];
}

async function printFigures(): Promise<void> {
  const [cold, corrupt, warm] = run.invocations;
  const s = (n: number | undefined) => (n === undefined ? '?' : `${n.toFixed(2)} s`);
  const phases = async (i: number) => {
    const jobId = (run.invocations[i]?.result as JobOutcome[] | undefined)?.[0]?.jobId;
    const manifest = jobId && (await manifestOf(jobId).catch(() => undefined));
    return manifest ? JSON.stringify(manifest.timings.phases) : '?';
  };
  console.log(
    [
      `deployed stylize function on Node ${run.nodeVersion} in Lambda's layout as uid ${run.uid} (${app.realWeights ? 'real' : 'generated'} weights):`,
      `  cdk synth            ${s(app.seconds)}${app.reused ? ' (reused: synthesised earlier from the same inputs)' : ''}`,
      `  handler import       ${s(run.importSeconds)}`,
      `  first job (cold)     ${s(cold?.seconds)}  64 px, 10 iterations; job.json phases ${await phases(0)}`,
      `  corrupt input        ${s(corrupt?.seconds)}`,
      `  second job (warm)    ${s(warm?.seconds)}  the same job; job.json phases ${await phases(2)}`,
      `  cold minus warm      ${s(cold && warm ? cold.seconds - warm.seconds : undefined)}  the weights, the engine's first session, the first S3 requests`,
      `  process, start..exit ${s(runSeconds)}`,
    ].join('\n'),
  );
}

const outcomeOf = (i: number): JobOutcome => {
  const invocation = run.invocations[i];
  expect(invocation?.error).toBeUndefined();
  const outcomes = invocation.result as JobOutcome[];
  expect(outcomes).toHaveLength(1);
  return outcomes[0];
};

const manifestOf = (jobId: string) => readJson<JobManifest>(s3.store, `outputs/${jobId}/job.json`);

const notificationsOf = (jobId: string) => sns.messages.filter((m) => m.attributes.jobId === jobId);

describe.skipIf(noContainers !== undefined)(
  'the deployed stylize function of a pipeline under a key prefix, run as Lambda runs it',
  () => {
    it(`is read from the template: index.handler on ${LAMBDA_NODE_RUNTIME.name}, the runtime layer then the weights layer`, () => {
      expect(fn).toMatchObject({
        handler: 'index.handler',
        runtime: LAMBDA_NODE_RUNTIME.name,
        architectures: ['x86_64'],
      });
      expect(existsSync(path.join(fn.code, 'index.mjs'))).toBe(true);
      expect(fn.layers).toHaveLength(2);
      const [runtime, weights] = fn.layers;
      for (const name of ['sharp', 'onnxruntime-node']) {
        expect(existsSync(path.join(runtime.dir, 'nodejs/node_modules', name, 'package.json'))).toBe(true);
      }
      expect(existsSync(path.join(weights.dir, 'vgg19/weights.json'))).toBe(true);
      expect(fn.environment.NST_WEIGHTS_DIR).toBe('/opt/vgg19');
      expect(fn.environment.NST_TOPIC_ARN).toMatch(new RegExp(`^arn:aws:sns:${LOCAL_REGION}:${ACCOUNT}:`));
      expect(fn.environment.NST_EVENT_BUS).toBe('default');
      expect(fn.environment.NST_KEY_PREFIX).toBe(PREFIX);
    });

    it("gets the local server's S3 event records in S3's shape: URL-encoded key, eTag, size, sequencer", async () => {
      const [record] = events.cold.Records;
      const stored = (await s3.store.get(KEYS.cold))!;
      expect(record).toMatchObject({
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: LOCAL_REGION,
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: s3.s3.bucket, arn: `arn:aws:s3:::${s3.s3.bucket}` },
          object: {
            key: objectKey('inputs/starry/my+photo%2B1.jpg'),
            size: stored.body.length,
            eTag: stored.etag.replace(/"/g, ''),
          },
        },
      });
      expect(record.s3.object.sequencer).toMatch(/^[0-9A-F]+$/i);
    });

    it(`loads on Node ${DEPLOYED_NODE_MAJOR} at /var/task with the layers at /opt, reading nothing from the checkout`, () => {
      expect(run.fatal).toBeUndefined();
      expect(run.exitCode).toBe(0);
      expect(run.nodeVersion).toMatch(new RegExp(`^v${DEPLOYED_NODE_MAJOR}\\.`));
      expect(run.cwd).toBe('/var/task');
      expect(run.importSeconds).toBeGreaterThan(0);
      expect(run.uid).not.toBe(0);
      expect(run.found).toEqual(Object.fromEntries(checkoutPaths().map((p) => [p, false])));
      expect(run.invocations).toHaveLength(3);
    });

    it(`logs JSON lines only (Powertools logs, EMF metrics): no runtime or SDK warnings on Node ${DEPLOYED_NODE_MAJOR}`, () => {
      const lines = run.logs.split('\n').filter((line) => line.trim() !== '');
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.filter((line) => !/^\{.*\}$/.test(line))).toEqual([]);
    });

    it('runs a good 64 px job: the result, job.json succeeded, one notification', async () => {
      for (const [i, key] of [
        [0, KEYS.cold],
        [2, KEYS.warm],
      ] as const) {
        const outcome = outcomeOf(i);
        expect(outcome.status).toBe('succeeded');
        const manifest = await manifestOf(outcome.jobId!);
        expect(manifest).toMatchObject({ status: 'succeeded', source: { key }, route: { worker: 'lambda' } });
        const result = await s3.store.get(manifest.output!.key);
        const { width, height } = await sharp(result!.body).metadata();
        expect([width, height]).toEqual([64, 48]);
        const messages = notificationsOf(outcome.jobId!);
        expect(messages).toHaveLength(1);
        expect(messages[0]).toMatchObject({
          topicArn: fn.environment.NST_TOPIC_ARN,
          attributes: { status: 'succeeded' },
        });
        expect(JSON.parse(messages[0].message).output).toMatchObject({
          uri: `s3://${s3.s3.bucket}/${objectKey(manifest.output!.key)}`,
          key: objectKey(manifest.output!.key),
        });
      }
      expect((await manifestOf(outcomeOf(2).jobId!)).source.versionId).toBe(WARM_VERSION);
    });

    it('fails a corrupt input with its code: job.json failed, a failure notification, no result', async () => {
      const outcome = outcomeOf(1);
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'IMAGE_UNSUPPORTED' } });
      const manifest = await manifestOf(outcome.jobId!);
      expect(manifest).toMatchObject({
        status: 'failed',
        source: { key: KEYS.corrupt },
        error: { code: 'IMAGE_UNSUPPORTED' },
      });
      expect(manifest.output).toBeUndefined();
      expect(await s3.outputs(outcome.jobId!)).not.toContainEqual(expect.stringMatching(/\/result\./));
      const messages = notificationsOf(outcome.jobId!);
      expect(messages).toHaveLength(1);
      expect(messages[0].attributes.status).toBe('failed');
      expect(JSON.parse(messages[0].message).error.code).toBe('IMAGE_UNSUPPORTED');
    });

    it('publishes one notification per job and nothing else', () => {
      expect(sns.messages).toHaveLength(3);
    });

    it('writes nothing outside its key prefix', async () => {
      const keys = await new ObjectStore(s3.s3.client, s3.s3.bucket).list('');
      expect(keys.filter((k) => k.startsWith(`${PREFIX}outputs/`)).length).toBeGreaterThan(3);
      expect(keys.filter((k) => !k.startsWith(PREFIX))).toEqual([]);
    });

    it("puts each job's events on the default bus: Started as it ran, then one terminal event with the notification", () => {
      for (const event of bus.events)
        expect(event).toMatchObject({ EventBusName: 'default', Source: 'serverless-style-transfer' });
      const jobIds = [0, 1, 2].map((i) => outcomeOf(i).jobId!);
      const typesOf = (jobId: string) =>
        bus.events.filter((e) => JSON.parse(e.Detail).jobId === jobId).map((e) => e.DetailType);
      // The corrupt upload fails as it is decoded, before any run starts.
      expect(jobIds.map(typesOf)).toEqual([
        ['Style Transfer Job Started', 'Style Transfer Job Succeeded'],
        ['Style Transfer Job Failed'],
        ['Style Transfer Job Started', 'Style Transfer Job Succeeded'],
      ]);
      expect(bus.events).toHaveLength(5);
      // One document: each terminal event's detail is the job's SNS message.
      for (const jobId of jobIds) {
        const terminal = bus.events.filter((e) => JSON.parse(e.Detail).jobId === jobId).at(-1)!;
        expect(JSON.parse(terminal.Detail)).toEqual(JSON.parse(notificationsOf(jobId)[0].message));
      }
    });
  },
);
