import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BATCH_IMAGE, LOCK_FILE, REPO_ROOT, STYLIZE_ENTRY } from '../../infra/paths.js';

describe('repository paths', () => {
  it('name files that exist', () => {
    expect(existsSync(path.join(REPO_ROOT, 'package.json'))).toBe(true);
    for (const file of [LOCK_FILE, STYLIZE_ENTRY, path.join(BATCH_IMAGE.directory, BATCH_IMAGE.file)]) {
      expect(existsSync(file), file).toBe(true);
    }
  });

  it('cdk.json builds dist/ (what the GPU image copies), runs the compiled infra/app.ts, and watches folders that exist', () => {
    const cdk = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
    expect(cdk.app).toBe('npm run --silent build && node dist/infra/app.js');
    expect(existsSync(path.join(REPO_ROOT, 'infra', 'app.ts'))).toBe(true);
    for (const pattern of cdk.watch.include as string[]) {
      expect(existsSync(path.join(REPO_ROOT, pattern.replace(/\/\*\*$/, ''))), pattern).toBe(true);
    }
  });
});
