/**
 * Writes the published JSON Schemas from their zod schemas:
 *   - schema/job-spec.schema.json: job specs (src/jobs/spec/spec.ts);
 *   - schema/job-notification.schema.json: a job's notification, the SNS message and the EventBridge
 *     events' detail (src/jobs/notify/job-notification.ts).
 *   npx tsx schema/generate.ts
 * A unit test fails when a committed file is out of date.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { jobNotificationJsonSchema } from '../src/jobs/notify/job-notification.js';
import { jobSpecJsonSchema } from '../src/jobs/spec/spec.js';

/** Each published schema: its file, and its text as the sources make it. */
export const SCHEMAS = [
  { file: schemaFile('job-spec.schema.json'), text: () => schemaText(jobSpecJsonSchema()) },
  { file: schemaFile('job-notification.schema.json'), text: () => schemaText(jobNotificationJsonSchema()) },
] as const;

function schemaFile(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

function schemaText(schema: Record<string, unknown>): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const { file, text } of SCHEMAS) {
    await writeFile(file, text());
    process.stderr.write(`wrote ${file}\n`);
  }
}
