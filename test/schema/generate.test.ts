import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMAS } from '../../schema/generate.js';

describe('the published JSON Schemas', () => {
  it.each(SCHEMAS.map((s) => [path.basename(s.file), s] as const))(
    '%s is up to date (regenerate: npx tsx schema/generate.ts)',
    async (_name, { file, text }) => {
      expect(await readFile(file, 'utf8')).toBe(text());
    },
  );
});
