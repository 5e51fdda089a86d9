/**
 * The progress bar of `nst stylize` and `nst submit --wait` (cli-progress, on stderr): iterations done of
 * the total, the scale and its size, the latest loss and the time left.
 */
import { SingleBar } from 'cli-progress';
import type { Progress } from '../engine/stylize.js';
import type { LossTerms } from '../engine/types.js';

/** What the bar shows: the engine's progress, or job.json's (whose loss terms are `loss`). */
type BarProgress = Pick<
  Progress,
  'scaleIndex' | 'scaleCount' | 'width' | 'height' | 'done' | 'total' | 'etaSeconds'
> & { readonly loss: LossTerms };

export interface ProgressView {
  update(p: BarProgress): void;
  stop(): void;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  const bar = new SingleBar(
    {
      format: 'stylize |{bar}| {value}/{total} | scale {scale} {size} | loss {loss} | ETA {etaText}',
      stream,
      hideCursor: true,
      etaBuffer: 1,
    },
    undefined,
  );
  let started = false;
  return {
    update(p) {
      const payload = {
        scale: `${p.scaleIndex + 1}/${p.scaleCount}`,
        size: `${p.width}x${p.height}`,
        loss: p.loss.total.toExponential(3),
        etaText: p.etaSeconds === undefined ? '-' : `${Math.round(p.etaSeconds)}s`,
      };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else bar.update(p.done, payload);
    },
    stop: () => started && bar.stop(),
  };
}
