/**
 * `nst weights fetch|convert`: their flags and help. What they do is in src/cli/weights.ts, loaded when they
 * run.
 */
import type { Command } from 'commander';
import { DEFAULT_WEIGHTS_DIR } from '../../weights/lookup.js';

export interface FetchFlags {
  out: string;
  float16?: boolean;
  url?: string;
  sha256?: string;
}

export interface ConvertFlags {
  out: string;
  float16?: boolean;
}

export function registerWeightsCommands(program: Command): void {
  const weights = program.command('weights').description('Get the VGG-19 weights (conv1_1 .. conv5_1)');
  weights
    .command('fetch')
    .description("Download Keras' VGG-19 ImageNet weights, check the checksum and convert them")
    .option('--out <dir>', 'where to write the weights', DEFAULT_WEIGHTS_DIR)
    .option('--float16', 'store float16 (half the size; used by the Lambda layer)')
    .option('--url <url>', 'download from this address instead (a mirror)')
    .option('--sha256 <hex>', 'expected SHA-256 of the .h5 file (for a mirror)')
    .action(async (flags: FetchFlags) => {
      const { fetchCommand } = await import('../weights.js');
      await fetchCommand(flags);
    });
  weights
    .command('convert')
    .description("Convert a local copy of Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    .argument('<h5>', 'the Keras .h5 file')
    .option('--out <dir>', 'where to write the weights', DEFAULT_WEIGHTS_DIR)
    .option('--float16', 'store float16 (half the size)')
    .action(async (h5: string, flags: ConvertFlags) => {
      const { convertCommand } = await import('../weights.js');
      await convertCommand(h5, flags);
    });
}
