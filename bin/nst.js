#!/usr/bin/env node
// The `nst` command: runs the compiled CLI in dist/ (`npm run build`; `npm ci` and `npm pack` build it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(`nst: ${fileURLToPath(main)} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
await import(main.href);
