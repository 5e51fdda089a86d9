/**
 * Shared set-up of the infrastructure tests: the stack synthesised with cdk.json's context (feature flags
 * included) and tiny placeholder layers, so an assertion test copies kilobytes, not the 90 MB of real
 * layers (the synth test builds those).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App, type Environment, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type NstConfig, parseConfig } from '../../infra/config.js';
import type { LayerDirs } from '../../infra/constructs/layers.js';
import type { NotificationTargets } from '../../infra/constructs/policies.js';
import { REPO_ROOT } from '../../infra/paths.js';
import { NstStack } from '../../infra/stack.js';
import { generateVggWeights } from '../../src/engine/vgg.js';
import { writeWeights } from '../../src/weights/store.js';

/** Lambda's limit on a function's code plus its layers, unzipped. */
export const LAMBDA_UNZIPPED_LIMIT = 262_144_000;

export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
}

export interface Synthesised {
  readonly stack: NstStack;
  readonly template: Template;
  readonly outdir: string;
  readonly config: NstConfig;
  /** Removes the temporary cloud assembly and layers. */
  readonly dispose: () => void;
}

/** Layer folders with the right layout and a few bytes each. */
function placeholderLayers(root: string): LayerDirs {
  const runtime = path.join(root, 'runtime');
  const vgg19 = path.join(root, 'vgg19');
  mkdirSync(path.join(runtime, 'nodejs', 'node_modules', 'placeholder'), { recursive: true });
  writeFileSync(path.join(runtime, 'nodejs', 'node_modules', 'placeholder', 'index.js'), '');
  mkdirSync(path.join(vgg19, 'vgg19'), { recursive: true });
  writeFileSync(path.join(vgg19, 'vgg19', 'weights.json'), '{}');
  return { runtime, vgg19 };
}

export interface SynthOptions {
  readonly env?: Environment;
  /** Context lookups answered in advance, as cdk.context.json would. */
  readonly lookups?: Record<string, unknown>;
}

export interface BareStack {
  /** An empty stack for one construct under test. */
  readonly stack: Stack;
  /** Placeholder layer folders. */
  readonly layers: LayerDirs;
  readonly dispose: () => void;
}

/** An app (cdk.json's context, a temporary assembly folder) for a host app's stacks, with placeholder layers. */
export function bareApp(): { readonly app: App; readonly layers: LayerDirs; readonly dispose: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'nst-construct-'));
  return {
    app: new App({ context: cdkJsonContext(), outdir: path.join(root, 'cdk.out') }),
    layers: placeholderLayers(root),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** An empty stack (cdk.json's context, a temporary assembly folder) to test one construct on its own. */
export function bareStack(): BareStack {
  const { app, ...rest } = bareApp();
  return { stack: new Stack(app, 'Test'), ...rest };
}

/** A new topic and the account's default bus, for a construct that tells subscribers about jobs. */
export function notificationTargets(stack: Stack): NotificationTargets {
  return {
    topic: new sns.Topic(stack, 'Topic'),
    eventBus: events.EventBus.fromEventBusName(stack, 'Bus', 'default'),
  };
}

/** Synthesises the stack once with cdk.json's context plus `overrides`. */
export function synthesise(overrides: Record<string, unknown> = {}, opts: SynthOptions = {}): Synthesised {
  const root = mkdtempSync(path.join(os.tmpdir(), 'nst-infra-'));
  const context = cdkJsonContext();
  const outdir = path.join(root, 'cdk.out');
  const app = new App({ context: { ...context, ...opts.lookups }, outdir });
  const dispose = () => rmSync(root, { recursive: true, force: true });
  try {
    const config = parseConfig({ ...context, ...overrides });
    const stack = new NstStack(app, 'Test', { config, layers: placeholderLayers(root), env: opts.env });
    return { stack, template: Template.fromStack(stack), outdir, config, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** cdk-nag's AWS Solutions findings that are neither fixed nor acknowledged. */
export function nagFindings(stack: Stack) {
  return new AwsSolutionsChecks().validateScope(stack).violations.map((v) => ({
    rule: v.ruleName,
    severity: v.severity,
    resources: v.violatingResources.map((r) => r.constructPath),
  }));
}

/** CloudFormation JSON, read loosely: the assertions themselves check its shape. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped by nature.
export type Cfn = any;

type Resources = Record<string, { Type: string; Properties?: Cfn }>;

/** Every resource of `type`, by logical id. */
export function resourcesOfType(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** The one resource of `type` (fails when there are several). */
export function only(template: Template, type: string) {
  const found = Object.entries(resourcesOfType(template, type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [id, resource] = found[0];
  return { id, properties: resource.Properties ?? {} };
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Sid?: string;
  Condition?: unknown;
}

/** The statements of the managed and inline policies attached to a role (by its logical id). */
export function roleStatements(template: Template, roleId: string): Statement[] {
  const policies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).filter((p) =>
    JSON.stringify(p.Properties?.Roles).includes(`"${roleId}"`),
  );
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** All IAM statements of the template: policies, inline role policies. */
export function allStatements(template: Template): Statement[] {
  const fromPolicies = Object.values(resourcesOfType(template, 'AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
  const inline = Object.values(resourcesOfType(template, 'AWS::IAM::Role')).flatMap((r) =>
    ((r.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    ),
  );
  return [...fromPolicies, ...inline];
}

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Sum of the sizes of every file under `dir`. */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? dirBytes(full) : statSync(full).size;
  }
  return total;
}

/** Every file under `dir`, relative, with '/' separators. */
export function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`],
  );
}

/** A temporary folder with float32 weights of VGG-19's shapes (generated), the vgg19 layer's source. */
export async function generatedWeights(prefix: string): Promise<{ tmp: string; weightsDir: string }> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), prefix));
  const weightsDir = path.join(tmp, 'weights-f32');
  await writeWeights(weightsDir, generateVggWeights(3));
  return { tmp, weightsDir };
}

/** Values of the pseudo parameters when a template's expressions are rendered to text. */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
};

/**
 * A template expression as text: strings as they are, `Fn::Join` joined, pseudo parameters by PSEUDO,
 * any other reference as `<ref:Id>` / `<att:Id.Attr>`.
 */
export function render(value: Cfn): string {
  if (typeof value === 'string') return value;
  if (value?.Ref) return PSEUDO[value.Ref] ?? `<ref:${value.Ref}>`;
  if (value?.['Fn::GetAtt']) return `<att:${value['Fn::GetAtt'].join('.')}>`;
  if (value?.['Fn::Join']) {
    const [separator, parts] = value['Fn::Join'] as [string, Cfn[]];
    return parts.map(render).join(separator);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** IAM's ArnLike / StringLike: `*` any run of characters, `?` one. */
const globMatches = (pattern: string, text: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(text);

/** Whether a statement's conditions hold for a request with these context keys (the operators used here). */
function conditionsHold(conditions: Cfn, context: Record<string, string>): boolean {
  return Object.entries((conditions ?? {}) as Record<string, Record<string, Cfn>>).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => {
      const actual = context[key];
      const values = asList(expected).map(render);
      if (actual === undefined) return false;
      if (operator === 'StringEquals' || operator === 'ArnEquals') return values.includes(actual);
      if (operator === 'StringLike' || operator === 'ArnLike')
        return values.some((v) => globMatches(v, actual));
      if (operator === 'Bool') return values.includes(actual);
      throw new Error(`condition operator ${operator} is not modelled`);
    }),
  );
}

const principalServices = (statement: Cfn): string[] =>
  statement.Principal === '*' || statement.Principal?.AWS === '*'
    ? ['*']
    : asList(statement.Principal?.Service ?? []);

/**
 * Why CloudWatch could not publish each alarm's actions (alarms of `env`, the stack's literal account and
 * region, or the pseudo parameters' PSEUDO values): every action of every alarm in the template
 * must be a topic of this template, without a KMS key (CloudWatch cannot use the AWS-managed one), whose
 * topic policy allows cloudwatch.amazonaws.com to publish for that alarm (source account and alarm ARN as
 * CloudWatch sends them, over TLS) and denies it nothing; a topic without a policy of its own has SNS's
 * default one, which lets this account's alarms publish. An alarm without actions is reported too.
 * Empty: every alarm reaches its topics.
 */
export function unreachableAlarms(
  template: Template,
  env: { account: string; region: string } = {
    account: PSEUDO['AWS::AccountId'],
    region: PSEUDO['AWS::Region'],
  },
): string[] {
  const json = template.toJSON().Resources as Resources;
  const policies = Object.values(resourcesOfType(template, 'AWS::SNS::TopicPolicy'));
  const problems: string[] = [];
  for (const [alarmId, alarm] of Object.entries(resourcesOfType(template, 'AWS::CloudWatch::Alarm'))) {
    const props = alarm.Properties ?? {};
    const actions = ['AlarmActions', 'OKActions', 'InsufficientDataActions'].flatMap((k) => props[k] ?? []);
    if (actions.length === 0) problems.push(`${alarmId}: no actions`);
    const request = {
      'aws:SourceAccount': env.account,
      'aws:SourceArn': `arn:aws:cloudwatch:${env.region}:${env.account}:alarm:${props.AlarmName ?? alarmId}`,
      'aws:SecureTransport': 'true',
    };
    for (const action of actions) {
      const topicId = action?.Ref;
      if (!topicId || json[topicId]?.Type !== 'AWS::SNS::Topic') {
        problems.push(`${alarmId}: action ${JSON.stringify(action)} is not a topic of this stack`);
        continue;
      }
      if (json[topicId].Properties?.KmsMasterKeyId) {
        problems.push(`${alarmId}: topic ${topicId} is KMS-encrypted`);
      }
      const statements = policies
        .filter((p) => JSON.stringify(p.Properties?.Topics).includes(`"${topicId}"`))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
      // No topic policy: SNS's default one, which lets this account's alarms publish.
      if (statements.length === 0) continue;
      const applies = (s: Statement) =>
        asList(s.Action).some((a) => /^sns:(Publish|\*)$/i.test(a)) &&
        asList(s.Resource).some((r) => r === '*' || JSON.stringify(r) === JSON.stringify({ Ref: topicId })) &&
        principalServices(s).some((p) => p === '*' || p === 'cloudwatch.amazonaws.com') &&
        conditionsHold(s.Condition, request);
      const allowed = statements.some((s) => s.Effect === 'Allow' && applies(s));
      const denied = statements.some((s) => s.Effect === 'Deny' && applies(s));
      if (!allowed || denied) {
        problems.push(
          `${alarmId}: topic ${topicId} ${denied ? 'denies' : 'does not allow'} cloudwatch.amazonaws.com sns:Publish`,
        );
      }
    }
  }
  return problems;
}
