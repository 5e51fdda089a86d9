/**
 * What `nst weights fetch|convert` do (their flags are in commands/weights.ts): get the VGG-19 weights into
 * the format the engines load.
 */
import path from 'node:path';
import { fetchWeights } from '../weights/fetch.js';
import { convertKerasH5 } from '../weights/keras-h5.js';
import type { ConvertFlags, FetchFlags } from './commands/weights.js';

export async function fetchCommand(flags: FetchFlags): Promise<void> {
  await fetchWeights(path.resolve(flags.out), {
    float16: flags.float16,
    url: flags.url,
    sha256: flags.sha256,
    onProgress: progressPrinter(),
  });
  process.stderr.write(`weights ready in ${path.resolve(flags.out)}\n`);
}

export async function convertCommand(h5: string, flags: ConvertFlags): Promise<void> {
  const { tensors, bytes } = await convertKerasH5(h5, path.resolve(flags.out), { float16: flags.float16 });
  process.stderr.write(
    `wrote ${tensors} tensors (${(bytes / 1e6).toFixed(1)} MB) to ${path.resolve(flags.out)}\n`,
  );
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
