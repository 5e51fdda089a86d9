/**
 * The main job end to end, on this machine (what `npm start` runs): start the local pipeline (embedded S3
 * server + the Lambda's handler), drop the bundled example photo into it with the example painting as its
 * style, wait for the job, then copy the result and job.json out of the bucket and write a contact sheet
 * (content | style | result) next to them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { submitDropIn, waitForJob } from '../client/submit.js';
import { NstError } from '../errors.js';
import { contactSheet } from '../image/contact-sheet.js';
import { decodeImage } from '../image/decode.js';
import { writeFileAtomic } from '../image/encode.js';
import { startLocalPipeline } from '../jobs/local/local-pipeline.js';
import { cachedWeights } from '../jobs/wiring/weights-cache.js';
import { DEFAULT_BUCKET } from './commands/s3-flags.js';
import { EXAMPLE_CONTENT, EXAMPLE_STYLE, exampleWeightsDir } from './example.js';
import { downloadJob, progressReporter } from './serve.js';

/** The default schedule at 384 px: about a minute on 2 idle cores with the onnx engine. */
const DEMO_OPTIONS = { size: 384 } as const;

const say = (line: string) => process.stderr.write(`${line}\n`);

export interface PipelineDemoOptions {
  readonly weightsDir?: string;
  /** Where the result, job.json and the contact sheet go (default output/pipeline). */
  readonly outDir?: string;
  /** Stylize options of the example job (default DEMO_OPTIONS). */
  readonly options?: Readonly<Record<string, unknown>>;
}

export async function runPipelineDemo(opts: PipelineDemoOptions = {}): Promise<void> {
  const weightsDir = opts.weightsDir ?? (await exampleWeightsDir());
  const outDir = path.resolve(opts.outDir ?? path.join('output', 'pipeline'));
  await cachedWeights(weightsDir);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'nst-demo-s3-'));
  const pipeline = await startLocalPipeline({
    dataDir,
    bucket: DEFAULT_BUCKET,
    loadWeights: () => cachedWeights(weightsDir),
    onProgress: progressReporter(say),
    write: say,
  });
  try {
    const { store } = pipeline;
    say(`nst: local S3 pipeline at ${pipeline.endpoint}, bucket "${DEFAULT_BUCKET}"`);
    const submitted = await submitDropIn(store, {
      content: EXAMPLE_CONTENT,
      style: EXAMPLE_STYLE,
      options: opts.options ?? DEMO_OPTIONS,
    });
    say(
      `nst: dropped ${store.uri(submitted.contentKey)} (style ${store.uri(submitted.styleKey)}): job ${submitted.jobId}`,
    );
    const manifest = await waitForJob(store, submitted.jobId);
    if (manifest.status === 'failed') {
      throw new NstError(manifest.error?.code ?? 'INTERNAL', manifest.error?.message ?? 'the job failed');
    }
    const files = await downloadJob(store, manifest, outDir);
    const sheet = path.join(outDir, 'contact-sheet.png');
    const panels = await Promise.all(
      [
        [EXAMPLE_CONTENT, 'content'],
        [EXAMPLE_STYLE, 'style'],
        [files.result, 'result'],
      ].map(async ([file, label]) => ({ image: (await decodeImage(file)).image, label })),
    );
    await writeFileAtomic(sheet, await contactSheet(panels));
    say('');
    say(`result:        ${store.uri(files.resultKey)}  ->  ${files.result}`);
    say(`status:        ${store.uri(submitted.statusKey)}  ->  ${files.manifest}`);
    say(`contact sheet: ${sheet}`);
  } finally {
    await pipeline.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
