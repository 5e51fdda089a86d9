/**
 * A Lambda function as a cloud assembly (cdk.out) describes it: the template's properties, its code and
 * layer asset folders (found through the asset manifest), and its environment with every CloudFormation
 * expression (Ref, Fn::GetAtt, Fn::Join, Fn::Sub) replaced by the stand-in value the deployed stack would
 * give it: an ARN, a name or a URL in an account and region of the caller's choosing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface DeployedFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly handler: string;
  readonly runtime: string;
  readonly architectures: readonly string[];
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** The function's code asset folder. */
  readonly code: string;
  /** The layers in the order the function lists them (the order Lambda extracts them into /opt). */
  readonly layers: readonly {
    readonly logicalId: string;
    readonly description: string;
    readonly dir: string;
  }[];
  /** Environment.Variables, resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** The function's ARN in the stand-in account and region. */
  readonly arn: string;
  /** The stand-in region. */
  readonly region: string;
}

export interface StandInAccount {
  readonly account: string;
  readonly region: string;
}

// biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped by nature.
type Cfn = any;
/** A template's Resources section. */
export type Resources = Record<string, { Type: string; Properties?: Cfn }>;

/** The function named `functionName` in `stack`'s template in `out`. */
export function deployedFunction(
  out: string,
  stack: string,
  functionName: string,
  where: StandInAccount,
): DeployedFunction {
  const read = (file: string) => JSON.parse(readFileSync(path.join(out, file), 'utf8'));
  const resources: Resources = read(`${stack}.template.json`).Resources;
  const assetDir = assetFolders(out, read(`${stack}.assets.json`));
  const found = Object.entries(resources).find(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.FunctionName === functionName,
  );
  if (!found) throw new Error(`no function ${functionName} in ${stack}'s template`);
  const [logicalId, { Properties: p }] = found;
  const resolve = templateResolver(resources, stack, where);
  const layers = (p.Layers as Cfn[]).map((layer) => {
    const id = layer.Ref as string;
    const props = resources[id]?.Properties;
    if (resources[id]?.Type !== 'AWS::Lambda::LayerVersion') {
      throw new Error(`layer ${JSON.stringify(layer)} is not a layer of this stack`);
    }
    return { logicalId: id, description: props.Description ?? '', dir: assetDir(props.Content.S3Key) };
  });
  return {
    logicalId,
    functionName,
    handler: p.Handler,
    runtime: p.Runtime,
    architectures: p.Architectures ?? ['x86_64'],
    memorySize: p.MemorySize ?? 128,
    timeoutSeconds: p.Timeout ?? 3,
    code: assetDir(p.Code.S3Key),
    layers,
    environment: Object.fromEntries(
      Object.entries((p.Environment?.Variables ?? {}) as Record<string, Cfn>).map(([k, v]) => [
        k,
        resolve(v),
      ]),
    ),
    arn: `arn:aws:lambda:${where.region}:${where.account}:function:${functionName}`,
    region: where.region,
  };
}

/** S3 object key of an asset -> its folder in cdk.out, by the asset manifest. */
function assetFolders(out: string, manifest: Cfn): (s3Key: string) => string {
  const byKey = new Map<string, string>();
  for (const asset of Object.values(manifest.files ?? {}) as Cfn[]) {
    for (const destination of Object.values(asset.destinations) as Cfn[]) {
      byKey.set(destination.objectKey, path.join(out, asset.source.path));
    }
  }
  return (s3Key) => {
    const dir = byKey.get(s3Key);
    if (!dir) throw new Error(`no asset with object key ${s3Key} in the asset manifest`);
    return dir;
  };
}

/** What `Ref` gives for each resource type the function's environment may name, and its ARN. */
const RESOURCE_TYPES: Record<
  string,
  { nameProperty: string; ref: 'arn' | 'name' | 'url'; arn: (w: StandInAccount, name: string) => string }
> = {
  'AWS::SNS::Topic': {
    nameProperty: 'TopicName',
    ref: 'arn',
    arn: (w, n) => `arn:aws:sns:${w.region}:${w.account}:${n}`,
  },
  'AWS::SQS::Queue': {
    nameProperty: 'QueueName',
    ref: 'url',
    arn: (w, n) => `arn:aws:sqs:${w.region}:${w.account}:${n}`,
  },
  'AWS::S3::Bucket': { nameProperty: 'BucketName', ref: 'name', arn: (_, n) => `arn:aws:s3:::${n}` },
  'AWS::Batch::JobQueue': {
    nameProperty: 'JobQueueName',
    ref: 'arn',
    arn: (w, n) => `arn:aws:batch:${w.region}:${w.account}:job-queue/${n}`,
  },
  'AWS::Batch::JobDefinition': {
    nameProperty: 'JobDefinitionName',
    ref: 'arn',
    arn: (w, n) => `arn:aws:batch:${w.region}:${w.account}:job-definition/${n}:1`,
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    ref: 'name',
    arn: (w, n) => `arn:aws:lambda:${w.region}:${w.account}:function:${n}`,
  },
  'AWS::IAM::Role': {
    nameProperty: 'RoleName',
    ref: 'name',
    arn: (w, n) => `arn:aws:iam::${w.account}:role/${n}`,
  },
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    ref: 'name',
    arn: (w, n) => `arn:aws:logs:${w.region}:${w.account}:log-group:${n}:*`,
  },
};

/**
 * Turns a template expression into the text the deployed stack would give it (the one resolver of the
 * deployed tests: the function's environment here, the Batch job definition's in batch-worker.test.ts).
 */
export function templateResolver(
  resources: Resources,
  stack: string,
  where: StandInAccount,
): (value: Cfn) => string {
  const pseudo: Record<string, string> = {
    'AWS::Region': where.region,
    'AWS::AccountId': where.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stack,
  };
  const typeOf = (id: string) => {
    const type = RESOURCE_TYPES[resources[id]?.Type];
    if (!type) throw new Error(`no stand-in for ${id} (${resources[id]?.Type ?? 'not in the template'})`);
    return type;
  };
  // A literal name property, else a name like CloudFormation generates: stack, logical id, suffix.
  const nameOf = (id: string) => {
    const given = resources[id].Properties?.[typeOf(id).nameProperty];
    return typeof given === 'string' ? given : `${stack}-${id}-STANDIN`;
  };
  const arnOf = (id: string) => typeOf(id).arn(where, nameOf(id));
  const ref = (id: string) => {
    if (id in pseudo) return pseudo[id];
    const { ref } = typeOf(id);
    if (ref === 'arn') return arnOf(id);
    if (ref === 'url') return `https://sqs.${where.region}.amazonaws.com/${where.account}/${nameOf(id)}`;
    return nameOf(id);
  };
  const getAtt = (id: string, attribute: string) => {
    if (/Arn$/.test(attribute)) return arnOf(id);
    if (/Name$/.test(attribute)) return nameOf(id);
    throw new Error(`no stand-in for ${id}.${attribute}`);
  };
  const resolve = (value: Cfn): string => {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value?.Ref) return ref(value.Ref);
    if (value?.['Fn::GetAtt']) {
      const [id, attribute] = value['Fn::GetAtt'] as [string, string];
      return getAtt(id, attribute);
    }
    if (value?.['Fn::Join']) {
      const [separator, parts] = value['Fn::Join'] as [string, Cfn[]];
      return parts.map(resolve).join(separator);
    }
    if (typeof value?.['Fn::Sub'] === 'string') {
      return (value['Fn::Sub'] as string).replace(/\$\{([^}.]+)(?:\.([^}]+))?\}/g, (_, id, attribute) =>
        attribute ? getAtt(id, attribute) : ref(id),
      );
    }
    throw new Error(`no stand-in for the expression ${JSON.stringify(value)}`);
  };
  return resolve;
}
