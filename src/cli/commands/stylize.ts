/** `nst stylize`: its flags and help. What it does is in src/cli/stylize.ts, loaded when it runs. */
import type { Command } from 'commander';
import { extensionFor, OUTPUT_FORMATS } from '../../image/formats.js';
import { WEIGHTS_FLAG_HELP } from '../../weights/lookup.js';
import { addStylizeOptionFlags } from '../stylize-flags.js';

export interface StylizeFlags extends Record<string, unknown> {
  content: string;
  style: string[];
  styleMask?: MaskArg[];
  output: string;
  weights?: string;
  quality?: number;
  keepAlpha?: boolean;
  initImage?: string;
  json?: boolean;
  dryRun?: boolean;
  progress?: boolean;
  workers?: string;
}

/** A --style-mask as given: its path and how many --style flags came before it on the command line. */
export interface MaskArg {
  readonly path: string;
  readonly stylesBefore: number;
}

const STYLE_MASK_HELP =
  'mask of the --style before it (repeatable, one per style): a greyscale image of any size, stretched to ' +
  'the content; white: that style applies, black: it does not (a colour image counts by its luminance, ' +
  'transparency as black). Where masks overlap past white they share the pixel in proportion; a pixel no ' +
  'mask covers gets only the content and TV losses; a style without a mask covers the whole image. A ' +
  "style's :weight blends it with the styles of the same region (the same mask, or none): alone in its " +
  'region, its weight changes nothing';

/** --workers, for `nst stylize` and `nst serve`. */
export const TILE_WORKERS_HELP =
  'tile workers: the tiles of a tiled scale run this many at once, each in a thread with its share of ' +
  '--threads; auto: what the cores (2 threads a worker) and the free memory allow';

export function registerStylizeCommand(program: Command): void {
  const command: Command = program
    .command('stylize')
    .description('Stylise a photo with one or more paintings')
    .requiredOption('-c, --content <image>', 'content photo')
    .requiredOption(
      '-s, --style <image[:weight]>',
      'style painting, repeatable; blend several with weights (a.jpg --style b.jpg:0.3)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .requiredOption(
      '-o, --output <file>',
      `result image; the format follows the extension (${OUTPUT_FORMATS.map((f) => `.${extensionFor(f)}`).join(' ')})`,
    )
    .option('--style-mask <image>', STYLE_MASK_HELP, (value: string, previous: MaskArg[] = []): MaskArg[] => [
      ...previous,
      // Flags are parsed in command-line order, so the styles so far are the ones before this mask.
      { path: value, stylesBefore: (command.getOptionValue('style') as string[] | undefined)?.length ?? 0 },
    ])
    .option('--weights <dir>', WEIGHTS_FLAG_HELP)
    .option('--init-image <image>', 'starting image for --init image')
    .option('--quality <1-100>', 'quality of lossy output formats', (v) => Number(v))
    .option('--keep-alpha', "carry the content's transparency into the result (png, webp, avif, tiff)")
    .option('--json', 'print one JSON object with the run summary on stdout at the end')
    .option('--dry-run', 'validate everything and print the plan and time estimate, without running')
    .option('--no-progress', 'no progress bar')
    .option('--workers <n|auto>', TILE_WORKERS_HELP, 'auto');
  addStylizeOptionFlags(command);
  command.action(async (flags: StylizeFlags) => {
    const { runStylize } = await import('../stylize.js');
    await runStylize(flags);
  });
}
