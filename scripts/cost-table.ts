/**
 * Prints the README's speed and cost table from the cost and memory models: for each result size, the
 * default and the classic schedule's estimated time on 2 CPU cores and in the deployed Lambda (10240 MB,
 * 6 vCPUs), its GB-seconds, and the route the deployed pipeline takes. The README's table is this output.
 *
 * Run: npx tsx scripts/cost-table.ts
 */
import { estimateCost } from '../src/engine/cost-model.js';
import { DEFAULT_STYLIZE_OPTIONS, type StylizeOptions } from '../src/engine/options.js';
import { CLASSIC_SCHEDULE } from '../src/engine/schedule.js';
import { PIPELINE_DEFAULTS } from '../src/jobs/config.js';
import { deployedRoute } from '../src/jobs/run/routing.js';

/** Landscape 4:3 results, the style (starry_night, 512x405 at 512 px) at the result's size. */
const SIZES = [
  [512, 384],
  [1024, 768],
  [2048, 1536],
] as const;
const STYLE_ASPECT = 405 / 512;

const schedules: { name: string; options: StylizeOptions }[] = [
  { name: 'default', options: DEFAULT_STYLIZE_OPTIONS },
  { name: 'classic', options: { ...DEFAULT_STYLIZE_OPTIONS, ...CLASSIC_SCHEDULE } },
];

const minutes = (s: number) => (s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

const lines = [
  '| result | schedule | 2 CPU cores (onnx) | Lambda, 6 vCPUs | Lambda GB-seconds | deployed route |',
  '| --- | --- | --- | --- | --- | --- |',
];
for (const [width, height] of SIZES) {
  for (const { name, options } of schedules) {
    const job = {
      width,
      height,
      styles: [{ width, height: Math.round(width * STYLE_ASPECT) }],
      inputPixels: 2 * width * height,
      options,
    };
    const cpu = estimateCost({ width, height, options, engine: 'onnx', threads: 2 }).seconds;
    const { route, lambda } = deployedRoute(job);
    const lambdaSeconds = lambda.estimate.scales.reduce((sum, s) => sum + s.seconds, 0);
    const gbSeconds = (lambdaSeconds * PIPELINE_DEFAULTS.memoryMb) / 1024;
    const where = route.target === 'here' ? 'Lambda' : route.target === 'batch' ? 'Batch (GPU)' : 'refused';
    lines.push(
      `| ${width}x${height} | ${name} | ${minutes(cpu)} | ${minutes(lambdaSeconds)} | ${Math.round(gbSeconds)} | ${where} |`,
    );
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
