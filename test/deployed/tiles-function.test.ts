/**
 * A tiled job through the deployed function as `cdk deploy` ships it (the synthesised cloud assembly, laid
 * out as Lambda runs it: test/helpers/lambda-runtime.ts), driven by the tiles' state machine: the
 * definition the same assembly's template holds, run by an ASL interpreter (aws-local-stepfunctions) whose
 * Task states invoke one warm container of the function with the payloads the definition builds. The
 * upload starts the execution through a stand-in Step Functions endpoint (the SDK's
 * AWS_ENDPOINT_URL_SFN); then prepare, the tiles, reduce and join run in the container against a real local
 * S3 server, until the job succeeds with its result and one notification.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/jobs/lifecycle/locked-job.js';
import type { JobManifest } from '../../src/jobs/lifecycle/manifest.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../src/storage/s3-client.js';
import { STACK, type SynthesisedApp, synthesisedApp } from '../helpers/cdk-synth.js';
import { whyNoContainers } from '../helpers/container.js';
import { deployedNode } from '../helpers/deployed-node.js';
import { type EventsStandIn, startEventsStandIn } from '../helpers/events-stand-in.js';
import { startLikeLambda } from '../helpers/lambda-runtime.js';
import { type DeployedFunction, deployedFunction } from '../helpers/lambda-template.js';
import { readJson, type S3Harness, startS3 } from '../helpers/local-s3.js';
import { type SfnStandIn, startSfnStandIn } from '../helpers/sfn-stand-in.js';
import { SHARED_IMAGES } from '../helpers/shared.js';
import { type SnsStandIn, startSnsStandIn } from '../helpers/sns-stand-in.js';
import { tilesDefinitionOf } from '../helpers/tiles-definition.js';

const ACCOUNT = '123456789012';
/** 144 px whole, then 288x192 as 2 tiles of 256 px: one round of 2 iterations. */
const TILED_JOB = {
  'nst-size': '288',
  'nst-min-size': '144',
  'nst-iterations': '2',
  'nst-tile-size': '256',
};

const noContainers = await whyNoContainers();
if (noContainers) console.log(`deployed tiles test skipped: ${noContainers}`);

let app: SynthesisedApp;
let fn: DeployedFunction;
let s3: S3Harness;
let sns: SnsStandIn;
let sfn: SfnStandIn;
let bus: EventsStandIn;

beforeAll(async () => {
  if (noContainers) return;
  [app, s3, sns, sfn, bus] = await Promise.all([
    synthesisedApp(),
    startS3(),
    startSnsStandIn(),
    startSfnStandIn(),
    startEventsStandIn(),
  ]);
  fn = deployedFunction(app.out, STACK, 'nst-stylize', { account: ACCOUNT, region: LOCAL_REGION });
  await s3.store.put('styles/starry.jpg', await readFile(path.join(SHARED_IMAGES, 'style/starry_night.jpg')));
}, 240_000);

afterAll(async () => {
  await Promise.all([s3?.close(), sns?.close(), sfn?.close(), bus?.close()]);
});

describe.skipIf(noContainers !== undefined)(
  'a tiled job through the deployed function and the state machine',
  () => {
    it('runs the untiled scale, starts the execution, and its steps finish the job in the container', async () => {
      const live = startLikeLambda({
        fn,
        node: await deployedNode(),
        env: {
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          AWS_ENDPOINT_URL_S3: s3.s3.endpoint.replace('127.0.0.1', 'localhost'),
          AWS_ENDPOINT_URL_SNS: sns.endpoint,
          AWS_ENDPOINT_URL_SFN: sfn.endpoint,
          AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        },
        absent: [],
        timeoutMs: 300_000,
      });
      const photo = await sharp(path.join(SHARED_IMAGES, 'content/tubingen.jpg'))
        .resize(288)
        .jpeg()
        .toBuffer();
      const upload = await live.invoke(await s3.upload('inputs/starry/tubingen.jpg', photo, TILED_JOB));
      expect(upload.error).toBeUndefined();
      const [outcome] = upload.result as JobOutcome[];
      expect(outcome).toMatchObject({ status: 'queued' });

      // The function started the execution the template names, with the job as its input.
      expect(sfn.started).toHaveLength(1);
      const [started] = sfn.started;
      expect(started.stateMachineArn).toBe(
        `arn:aws:states:${LOCAL_REGION}:${ACCOUNT}:stateMachine:nst-tiles`,
      );
      expect(started.name).toBe(`nst-r1-${outcome.jobId}`);

      const definition = tilesDefinitionOf(app.out, STACK, { account: ACCOUNT, region: LOCAL_REGION });
      const step = async (input: unknown) => {
        const invocation = await live.invoke(input);
        if (invocation.error)
          throw Object.assign(new Error(invocation.error.errorMessage), { name: invocation.error.errorType });
        return invocation.result;
      };
      const names = ['PrepareScale', 'OptimiseTile', 'ReduceRound', 'JoinScale', 'MarkFailed'];
      const run = new StateMachine(definition as never).run(JSON.parse(started.input), {
        overrides: { taskResourceLocalHandlers: Object.fromEntries(names.map((n) => [n, step])) as never },
        context: { Execution: { Id: started.executionArn } },
      });
      const entered: string[] = [];
      const logging = (async () => {
        for await (const event of run.eventLogs)
          if (event.type === 'StateEntered') entered.push((event as { state: { name: string } }).state.name);
      })();
      expect(await run.result).toMatchObject({ next: 'done' });
      await logging;
      const lambda = await live.finish();
      expect(lambda.fatal).toBeUndefined();
      expect(entered.filter((n) => names.includes(n))).toEqual([
        'PrepareScale',
        'OptimiseTile',
        'OptimiseTile',
        'ReduceRound',
        'JoinScale',
      ]);

      const manifest = await readJson<JobManifest>(s3.store, `outputs/${outcome.jobId}/job.json`);
      expect(manifest.status).toBe('succeeded');
      expect(manifest.output).toMatchObject({ width: 288 });
      expect(manifest.progress).toMatchObject({ tiles: { done: 2, total: 2 }, percent: 100 });
      const result = await s3.store.get(manifest.output!.key);
      expect((await sharp(result!.body).metadata()).width).toBe(288);
      expect(sns.messages.filter((m) => m.attributes.jobId === outcome.jobId)).toHaveLength(1);
      // Started by the run that planned the tiles, ended by the join: one of each across the steps.
      expect(bus.events.map((e) => e.DetailType)).toEqual([
        'Style Transfer Job Started',
        'Style Transfer Job Succeeded',
      ]);
    }, 300_000);
  },
);
