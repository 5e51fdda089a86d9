/**
 * `nst example` and `nst demo` (what `npm start` runs): their flags and help. What they do is in
 * src/cli/example.ts and src/cli/demo.ts, loaded when they run.
 */
import type { Command } from 'commander';

export interface ExampleFlags {
  out: string;
  size: string;
}

export function registerExampleCommands(program: Command): void {
  program
    .command('example')
    .description('Stylise the bundled example pair (examples/content.jpg with examples/style.jpg)')
    .option('--out <file>', 'where to write the result', 'output/example.jpg')
    .option('--size <px>', 'longest side', '384')
    .action(async (flags: ExampleFlags) => {
      const { runExample } = await import('../example.js');
      await runExample(flags);
    });
  program
    .command('demo')
    .description(
      'The main job end to end on the local pipeline: the example pair in; result, job.json and a contact sheet out',
    )
    .option('--out <dir>', 'where the result, job.json and contact sheet go', 'output/pipeline')
    .option('--weights <dir>', 'VGG-19 weights directory')
    .action(async (flags: { out: string; weights?: string }) => {
      const { runPipelineDemo } = await import('../demo.js');
      await runPipelineDemo({ weightsDir: flags.weights, outDir: flags.out });
    });
}
