/**
 * `npm run bench -- --e2e`: the classic schedule and the default one side by side, end to end (`nst stylize`
 * at 512 px with the real weights, each run in its own process), on pairs of ../shared/images. Per pair it
 * reports both runs' seconds, peak RSS and final loss (`final.total`: evaluated at the final scale), their
 * ratios, and what each costs in iterations of the PyTorch peer at 512 px; and it writes a contact sheet
 * (content | style | classic | default) so the quality claim can be checked by eye.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLASSIC_SCHEDULE, type IterationSchedule } from '../src/engine/schedule.js';
import type { LossTerms } from '../src/engine/types.js';
import { contactSheet } from '../src/image/contact-sheet.js';
import { decodeImage } from '../src/image/decode.js';
import { resizeImage } from '../src/image/resize.js';

const run = promisify(execFile);

/** A content photo and a style painting, by file name (without .jpg) under images/content and images/style. */
export interface Pair {
  readonly content: string;
  readonly style: string;
}

/** The result size of every end-to-end run. */
export const E2E_SIZE = 512;

/** A landscape and a portrait pair; `--pairs` names others. */
export const DEFAULT_PAIRS: readonly Pair[] = [
  { content: 'tubingen', style: 'starry_night' },
  { content: 'brad_pitt', style: 'picasso_selfport1907' },
];

/** Parses `tubingen:starry_night,brad_pitt:picasso_selfport1907`. */
export function parsePairs(text: string): Pair[] {
  return text.split(',').map((item) => {
    const [content, style] = item.split(':').map((s) => s.trim());
    if (!content || !style) throw new Error(`--pairs: "${item}" is not content:style`);
    return { content, style };
  });
}

/** A named set of `nst stylize` flags. */
export interface Variant {
  readonly name: string;
  /** Flags of `nst stylize` (none: the defaults). */
  readonly flags: readonly string[];
}

const scheduleFlags = (s: { minSize: number; scaleGrowth: number; iterations: IterationSchedule }) => [
  ...['--min-size', String(s.minSize), '--scale-growth', String(s.scaleGrowth)],
  ...['--iterations', [s.iterations].flat().join(',')],
];

const SCHEDULES: readonly Variant[] = [
  { name: 'classic', flags: scheduleFlags(CLASSIC_SCHEDULE) },
  { name: 'default', flags: [] },
];

export interface EndToEndRun {
  readonly schedule: string;
  readonly wallSeconds: number;
  readonly iterations: number;
  readonly peakRssMb: number;
  readonly final: LossTerms;
  readonly output: string;
}

export interface EndToEndPair extends Pair {
  readonly resultSize: string;
  readonly classic: EndToEndRun;
  readonly default: EndToEndRun;
  /** default / classic. */
  readonly timeRatio: number;
  readonly lossRatio: number;
  readonly sheet: string;
}

export interface EndToEndSetup {
  readonly nst: string;
  readonly shared: string;
  readonly threads: string;
  readonly outDir: string;
}

/** One `nst stylize` of the pair at 512 px in its own process, timed. */
export async function stylizeOnce(setup: EndToEndSetup, pair: Pair, schedule: Variant): Promise<EndToEndRun> {
  const images = path.join(setup.shared, 'images');
  const output = path.join(
    setup.outDir,
    `${pair.content}-${pair.style}-${schedule.name.replace(/[^\w.-]+/g, '_')}.png`,
  );
  const args = [
    setup.nst,
    'stylize',
    ...['--content', path.join(images, 'content', `${pair.content}.jpg`)],
    ...['--style', path.join(images, 'style', `${pair.style}.jpg`)],
    ...['-o', output, '--size', String(E2E_SIZE), '--threads', setup.threads, '--engine', 'onnx'],
    ...['--weights', path.join(setup.shared, 'models/vgg19'), '--json'],
    ...schedule.flags,
  ];
  const started = performance.now();
  // /usr/bin/time -f %M reports the peak RSS in KB on stderr.
  const { stdout, stderr } = await run('/usr/bin/time', ['-f', '%M', process.execPath, ...args], {
    maxBuffer: 1 << 20,
  });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!);
  return {
    schedule: schedule.name,
    wallSeconds: (performance.now() - started) / 1000,
    iterations: summary.iterations,
    peakRssMb: Math.round(Number(stderr.trim().split('\n').pop()) / 1024),
    final: summary.final,
    output,
  };
}

/** content | style | each result, labelled, at one height; written as <content>-<style>-<name>.png. */
export async function writeSheet(
  setup: EndToEndSetup,
  pair: Pair,
  runs: readonly { readonly output: string; readonly label: string }[],
  name = 'sheet',
): Promise<string> {
  const read = async (file: string) => (await decodeImage(file, { name: file })).image;
  const images = path.join(setup.shared, 'images');
  const content = await read(path.join(images, 'content', `${pair.content}.jpg`));
  const style = await read(path.join(images, 'style', `${pair.style}.jpg`));
  const results = await Promise.all(runs.map((r) => read(r.output)));
  const first = results[0];
  const panels = [
    { image: await resizeImage(content, first.width, first.height), label: pair.content },
    { image: style, label: pair.style },
    ...runs.map((r, i) => ({ image: results[i], label: r.label })),
  ];
  const file = path.join(setup.outDir, `${pair.content}-${pair.style}-${name}.png`);
  await writeFile(file, await contactSheet(panels, { height: 384 }));
  return file;
}

/** Both schedules on one pair, the classic one first. */
export async function endToEndPair(setup: EndToEndSetup, pair: Pair): Promise<EndToEndPair> {
  await mkdir(setup.outDir, { recursive: true });
  const runs: EndToEndRun[] = [];
  for (const schedule of SCHEDULES) runs.push(await stylizeOnce(setup, pair, schedule));
  const [classic, current] = runs;
  return {
    ...pair,
    resultSize: await resultSize(current.output),
    classic,
    default: current,
    timeRatio: current.wallSeconds / classic.wallSeconds,
    lossRatio: current.final.total / classic.final.total,
    sheet: await writeSheet(
      setup,
      pair,
      runs.map((r) => ({
        output: r.output,
        label: `${r.schedule}: ${r.wallSeconds.toFixed(0)} s, loss ${r.final.total.toExponential(3)}`,
      })),
    ),
  };
}

async function resultSize(file: string): Promise<string> {
  const { width, height } = await decodeImage(file, { name: file });
  return `${width}x${height}`;
}

/** The closing table: one line per pair; peer iterations when the peer's 512 px seconds per iteration is known. */
export function endToEndTable(pairs: readonly EndToEndPair[], peerSecPerIter?: number): string[] {
  const peer = (s: number) => (peerSecPerIter ? (s / peerSecPerIter).toFixed(1) : '-');
  const lines = [
    'pair                                      size     classic s  default s  ratio  classic loss  default loss  loss ratio  peer its (classic/default)',
  ];
  for (const p of pairs) {
    const c = p.classic;
    const d = p.default;
    lines.push(
      `${`${p.content} x ${p.style}`.padEnd(41)} ${p.resultSize.padEnd(8)} ${c.wallSeconds.toFixed(1).padStart(9)}  ${d.wallSeconds.toFixed(1).padStart(9)}  ${p.timeRatio.toFixed(2).padStart(5)}  ${c.final.total.toExponential(4).padStart(12)}  ${d.final.total.toExponential(4).padStart(12)}  ${p.lossRatio.toFixed(3).padStart(10)}  ${peer(c.wallSeconds)} / ${peer(d.wallSeconds)}`,
    );
  }
  lines.push(
    peerSecPerIter
      ? `peer: ${peerSecPerIter.toFixed(2)} s per iteration at 512x512 (torch_gatys.py, same run)`
      : 'peer: not measured (install python3-torch and python3-pil): no peer-iteration figures',
  );
  return lines;
}
