/** The `nst` command line. */
import { Command, CommanderError } from 'commander';
import { CLI_NAME, SERVICE_NAME } from '../product.js';
import { runPipelineDemo } from './demo.js';
import { registerExampleCommand } from './example.js';
import { EXIT_BAD_INPUT, EXIT_OK, reportError } from './exit.js';
import { registerPipelineCommands } from './serve.js';
import { registerStatusCommand } from './status.js';
import { registerStylizeCommand } from './stylize.js';
import { registerWeightsCommands } from './weights.js';

function buildProgram(): Command {
  const program = new Command(CLI_NAME)
    .description(
      `${SERVICE_NAME}: neural style transfer (Gatys et al.) on VGG-19, as a CLI and an S3 pipeline`,
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStylizeCommand(program);
  registerWeightsCommands(program);
  registerExampleCommand(program);
  registerPipelineCommands(program);
  registerStatusCommand(program);
  program
    .command('demo')
    .description(
      'The main job end to end on the local pipeline: the example pair in; result, job.json and a contact sheet out',
    )
    .option('--out <dir>', 'where the result, job.json and contact sheet go', 'output/pipeline')
    .option('--weights <dir>', 'VGG-19 weights directory')
    .action(async (flags: { out: string; weights?: string }) =>
      runPipelineDemo({ weightsDir: flags.weights, outDir: flags.out }),
    );
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
