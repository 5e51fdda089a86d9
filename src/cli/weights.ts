/** `nst weights fetch|convert`: get the VGG-19 weights into the format the engines load. */
import path from 'node:path';
import type { Command } from 'commander';
import { fetchWeights } from '../weights/fetch.js';
import { convertKerasH5 } from '../weights/keras-h5.js';

export const DEFAULT_WEIGHTS_OUT = 'models/vgg19';

export function registerWeightsCommands(program: Command): void {
  const weights = program.command('weights').description('Get the VGG-19 weights (conv1_1 .. conv5_1)');
  weights
    .command('fetch')
    .description("Download Keras' VGG-19 ImageNet weights, check the checksum and convert them")
    .option('--out <dir>', 'where to write the weights', DEFAULT_WEIGHTS_OUT)
    .option('--float16', 'store float16 (half the size; used by the Lambda layer)')
    .option('--url <url>', 'download from this address instead (a mirror)')
    .option('--sha256 <hex>', 'expected SHA-256 of the .h5 file (for a mirror)')
    .action(async (flags: { out: string; float16?: boolean; url?: string; sha256?: string }) => {
      await fetchWeights(path.resolve(flags.out), {
        float16: flags.float16,
        url: flags.url,
        sha256: flags.sha256,
        onProgress: progressPrinter(),
      });
      process.stderr.write(`weights ready in ${path.resolve(flags.out)}\n`);
    });
  weights
    .command('convert')
    .description("Convert a local copy of Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    .argument('<h5>', 'the Keras .h5 file')
    .option('--out <dir>', 'where to write the weights', DEFAULT_WEIGHTS_OUT)
    .option('--float16', 'store float16 (half the size)')
    .action(async (h5: string, flags: { out: string; float16?: boolean }) => {
      const { tensors, bytes } = await convertKerasH5(h5, path.resolve(flags.out), {
        float16: flags.float16,
      });
      process.stderr.write(
        `wrote ${tensors} tensors (${(bytes / 1e6).toFixed(1)} MB) to ${path.resolve(flags.out)}\n`,
      );
    });
}

/** Prints download progress on a terminal, every 10%. */
function progressPrinter(): ((received: number, total?: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let lastTenth = -1;
  return (received, total) => {
    if (!total) return;
    const tenth = Math.floor((received / total) * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      process.stderr.write(`downloading: ${tenth * 10}% of ${(total / 1e6).toFixed(0)} MB\n`);
    }
  };
}
