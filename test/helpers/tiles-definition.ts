/**
 * The tiles' state machine definition as the stack synthesises it (infra/constructs/tiles-state-machine.ts),
 * with its tokens made concrete: the function's ARN as an ARN of this test account, the partition `aws`.
 * Also a Promise.withResolvers polyfill for Node 20, which aws-local-stepfunctions (Node >= 22) calls when
 * it runs a Task state.
 */
import { resourcesOfType, type Synthesised, synthesise } from '../infra/helpers.js';

export const TEST_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:nst-stylize';

type Part = string | { readonly Ref?: string; readonly 'Fn::GetAtt'?: readonly string[] };

/** The definition's JSON: its Fn::Join parts with each token replaced. */
export function tilesDefinition(
  synth: Pick<Synthesised, 'template'> = synthesise(),
): Record<string, unknown> {
  const machines = Object.values(resourcesOfType(synth.template, 'AWS::StepFunctions::StateMachine'));
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const joined = machines[0].Properties.DefinitionString['Fn::Join'][1] as Part[];
  const text = joined
    .map((part) => {
      if (typeof part === 'string') return part;
      if (part.Ref === 'AWS::Partition') return 'aws';
      if (part['Fn::GetAtt']?.[1] === 'Arn') return TEST_FUNCTION_ARN;
      throw new Error(`an unexpected token in the definition: ${JSON.stringify(part)}`);
    })
    .join('');
  return JSON.parse(text);
}

type WithResolvers = <T>() => {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
};

const promises = Promise as unknown as { withResolvers?: WithResolvers };
promises.withResolvers ??= <T>() => {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};
