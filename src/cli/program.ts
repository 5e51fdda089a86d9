/** The `nst` command line. */
import { Command, CommanderError } from 'commander';
import { EXIT_BAD_INPUT, EXIT_OK, reportError } from './exit.js';
import { registerExampleCommand } from './example.js';
import { registerStylizeCommand } from './stylize.js';
import { registerWeightsCommands } from './weights.js';

export function buildProgram(): Command {
  const program = new Command('nst')
    .description('serverless-style-transfer: neural style transfer (Gatys et al.) on VGG-19, as a CLI and an S3 pipeline')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStylizeCommand(program);
  registerWeightsCommands(program);
  registerExampleCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
    }
    return reportError(error);
  }
}
