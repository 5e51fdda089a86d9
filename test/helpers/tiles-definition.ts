/**
 * The tiles' state machine definition as the stack synthesises it (infra/constructs/tiles-state-machine.ts),
 * its tokens resolved as the deployed stack would resolve them (lambda-template.ts templateResolver): the
 * function's ARN in the stand-in account. Importing it polyfills Promise.withResolvers for the ASL
 * interpreter (promise-with-resolvers.ts).
 */
import './promise-with-resolvers.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Synthesised, synthesise } from '../infra/helpers.js';
import { type Resources, type StandInAccount, templateResolver } from './lambda-template.js';

const STAND_IN: StandInAccount = { account: '123456789012', region: 'us-east-1' };
export const TEST_FUNCTION_ARN = `arn:aws:lambda:${STAND_IN.region}:${STAND_IN.account}:function:nst-stylize`;

/** The definition of the one state machine among `resources`, resolved. */
function definitionIn(resources: Resources, stack: string, where: StandInAccount): Record<string, unknown> {
  const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  return JSON.parse(templateResolver(resources, stack, where)(machines[0].Properties.DefinitionString));
}

/** The definition of a stack synthesised in this process (test/infra/helpers.ts). */
export function tilesDefinition(
  synth: Pick<Synthesised, 'template'> = synthesise(),
): Record<string, unknown> {
  return definitionIn(synth.template.toJSON().Resources, 'Test', STAND_IN);
}

/** The definition in a cloud assembly (test/helpers/cdk-synth.ts), in the given stand-in account. */
export function tilesDefinitionOf(
  out: string,
  stack: string,
  where: StandInAccount,
): Record<string, unknown> {
  const template = JSON.parse(readFileSync(path.join(out, `${stack}.template.json`), 'utf8'));
  return definitionIn(template.Resources, stack, where);
}
