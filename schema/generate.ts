/**
 * Writes schema/job-spec.schema.json from the zod schema of job specs (src/jobs/spec/spec.ts):
 *   npx tsx schema/generate.ts
 * A unit test fails when the committed file is out of date.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { jobSpecJsonSchema } from '../src/jobs/spec/spec.js';

export const SCHEMA_FILE = fileURLToPath(new URL('./job-spec.schema.json', import.meta.url));

export const schemaText = (): string => `${JSON.stringify(jobSpecJsonSchema(), null, 2)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(SCHEMA_FILE, schemaText());
  process.stderr.write(`wrote ${SCHEMA_FILE}\n`);
}
