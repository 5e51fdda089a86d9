/**
 * The `nst` command line. Only the commands' flags and help load here (src/cli/commands/): each command
 * imports what it does when it runs, so `--help` never loads the engines, sharp or the AWS SDK.
 */
import { Command, CommanderError } from 'commander';
import { CLI_NAME, SERVICE_NAME } from '../product.js';
import { registerExampleCommands } from './commands/example.js';
import { registerPipelineCommands } from './commands/serve.js';
import { registerStatusCommand } from './commands/status.js';
import { registerStylizeCommand } from './commands/stylize.js';
import { registerWeightsCommands } from './commands/weights.js';
import { EXIT_BAD_INPUT, EXIT_OK, reportError } from './exit.js';

function buildProgram(): Command {
  const program = new Command(CLI_NAME)
    .description(
      `${SERVICE_NAME}: neural style transfer (Gatys et al.) on VGG-19, as a CLI and an S3 pipeline`,
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStylizeCommand(program);
  registerWeightsCommands(program);
  registerExampleCommands(program);
  registerPipelineCommands(program);
  registerStatusCommand(program);
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
