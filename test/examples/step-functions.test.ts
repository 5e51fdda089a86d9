/**
 * The example workflow (examples/step-functions): synthesised as its app does, with cdk-nag; its definition
 * valid (asl-validator) and shaped as the README says; then run by an ASL interpreter
 * (aws-local-stepfunctions) against the real handler and a local S3 server: the Stylise task's direct
 * invoke writes the spec under art/jobs/, that upload's job answers the task's token (its SendTaskSuccess
 * output is the task's result), and CopyToGallery copies the painting where the task said it is.
 */
import '../helpers/promise-with-resolvers.js';
import { CopyObjectCommand } from '@aws-sdk/client-s3';
import aslValidator from 'asl-validator';
import { Template } from 'aws-cdk-lib/assertions';
import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StyliseThenCopyStack } from '../../examples/step-functions/workflow-stack.js';
import type { JobNotification } from '../../src/jobs/notify/job-notification.js';
import { waitedSpecKey } from '../../src/jobs/spec/keys.js';
import { ObjectStore } from '../../src/storage/object-store.js';
import { templateResolver } from '../helpers/lambda-template.js';
import { BUCKET, type S3Harness, startS3 } from '../helpers/local-s3.js';
import { bareApp, type Cfn, nagFindings, resourcesOfType, roleStatements } from '../infra/helpers.js';
import { captured, jpeg, lambdaContext, png, TINY, testHandler, weightsDir } from '../integration/harness.js';

const { app, layers, dispose } = bareApp();
const example = new StyliseThenCopyStack(app, 'StyliseThenCopy', { layers });
const template = Template.fromStack(example);
afterAll(dispose);

const workflowId = example.getLogicalId(example.workflow.node.defaultChild as never);
const machine = resourcesOfType(template, 'AWS::StepFunctions::StateMachine')[workflowId].Properties as Cfn;
/** The definition with its references resolved as a deployed stack's would be, in a stand-in account. */
const definition = JSON.parse(
  templateResolver(template.toJSON().Resources, 'StyliseThenCopy', {
    account: '123456789012',
    region: 'us-east-1',
  })(machine.DefinitionString),
);
// biome-ignore lint/suspicious/noExplicitAny: the definition is JSON read for its shape.
const states = definition.States as Record<string, any>;

describe('the example workflow, synthesised', () => {
  it('is a valid definition: Stylise waits on the job by its token, then CopyToGallery', () => {
    const result = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(definition.StartAt).toBe('Stylise');
    expect(states.Stylise).toMatchObject({
      Resource: expect.stringMatching(/:states:::lambda:invoke\.waitForTaskToken$/),
      HeartbeatSeconds: 1800,
      TimeoutSeconds: 14_400,
      ResultPath: '$.job',
      Next: 'CopyToGallery',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'StyliseFailed' }],
    });
    expect(JSON.stringify(states.Stylise.Retry)).toContain('Lambda.TooManyRequestsException');
    expect(states.Stylise.Parameters.Payload).toEqual({
      'content.$': '$.content',
      'styles.$': '$.styles',
      'options.$': '$.options',
      'taskToken.$': '$$.Task.Token',
    });
    expect(states.CopyToGallery.Resource).toMatch(/:states:::aws-sdk:s3:copyObject$/);
    expect(states.StyliseFailed.Type).toBe('Fail');
  });

  it("lets the workflow invoke the function, read the pipeline's results and write the gallery, nothing more", () => {
    const roleId = machine.RoleArn['Fn::GetAtt'][0];
    const actions = roleStatements(template, roleId).flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(
      expect.arrayContaining(['lambda:InvokeFunction', 's3:PutObject', 's3:GetObject']),
    );
    expect(actions.filter((a) => a.startsWith('s3:'))).toEqual(['s3:PutObject', 's3:GetObject']);
    const text = JSON.stringify(roleStatements(template, roleId));
    expect(text).toContain('/art/outputs/*');
    expect(text).toContain('/paintings/*');
  });

  it('passes cdk-nag', () => {
    expect(nagFindings(example)).toEqual([]);
  });
});

describe('the example workflow, run against the real handler', () => {
  let weights: Awaited<ReturnType<typeof weightsDir>>;
  let s3: S3Harness;
  beforeAll(async () => {
    [weights, s3] = await Promise.all([weightsDir(), startS3({ keyPrefix: 'art/' })]);
    await s3.store.put('styles/starry.png', await png(48, 48, 5));
    await s3.store.put('assets/harbour.jpg', await jpeg(40, 32));
  });
  afterAll(async () => {
    await s3?.close();
    await weights?.cleanup();
  });

  it('stylises, hears the job answer its token, and copies the painting into the gallery', async () => {
    const sfn = captured.sfn();
    const handler = testHandler(weights.dir, {
      s3: s3.s3.client,
      sns: captured.sns().client,
      sfn: sfn.client,
      env: { NST_PIPELINE_BUCKET: BUCKET, NST_KEY_PREFIX: 'art/' },
    });
    const bucket = new ObjectStore(s3.s3.client, BUCKET);
    const copies: { Bucket: string; CopySource: string; Key: string }[] = [];
    const run = new StateMachine(definition).run(
      { content: 'assets/harbour.jpg', styles: [{ key: 'styles/starry.png' }], options: TINY },
      {
        context: { Task: { Token: 'token-1' } },
        overrides: {
          taskResourceLocalHandlers: {
            // Step Functions invokes the function, then waits for the token: the upload's job answers it.
            Stylise: async (parameters: unknown) => {
              const { Payload } = parameters as { Payload: Record<string, unknown> };
              expect(Payload.taskToken).toBe('token-1');
              await handler(Payload, lambdaContext());
              const key = `art/${waitedSpecKey('token-1')}`;
              const etag = (await bucket.head(key))!.etag.replace(/"/g, '');
              const upload = {
                Records: [
                  {
                    eventSource: 'aws:s3',
                    eventName: 'ObjectCreated:Put',
                    s3: { bucket: { name: BUCKET }, object: { key, eTag: etag } },
                  },
                ],
              };
              await handler(upload, lambdaContext(undefined, 'req-2'));
              const answer = sfn.calls.find((c) => c.command === 'SendTaskSuccessCommand');
              return JSON.parse(String(answer?.input.output));
            },
            CopyToGallery: async (parameters: unknown) => {
              const copy = parameters as { Bucket: string; CopySource: string; Key: string };
              copies.push(copy);
              // The gallery is another bucket in AWS; here, the same local bucket stands in for it.
              await s3.s3.client.send(new CopyObjectCommand({ ...copy, Bucket: BUCKET }));
              return { CopyObjectResult: {} };
            },
          },
        },
      },
    );
    const output = (await run.result) as { job: JobNotification };
    expect(output.job).toMatchObject({
      status: 'succeeded',
      bucket: BUCKET,
      input: { content: 'art/assets/harbour.jpg' },
    });
    expect(output.job.output?.key).toMatch(/^art\/outputs\/task-[0-9a-f]{16}-[0-9a-f]{16}\/result\.jpg$/);
    expect(copies).toEqual([
      {
        Bucket: expect.any(String),
        CopySource: `${BUCKET}/${output.job.output!.key}`,
        Key: `paintings/${output.job.jobId}`,
      },
    ]);
    const painting = await bucket.get(`paintings/${output.job.jobId}`);
    expect(painting?.body.equals((await bucket.get(output.job.output!.key))!.body)).toBe(true);
  });
});
