// Loaded with `node --import` by test/integration/cli-startup.test.ts: writes every module URL the process
// resolves (ES imports, and the packages they import) to the file named by NST_MODULE_TRACE.
import { register } from 'node:module';

register('./module-trace-hooks.mjs', import.meta.url, { data: process.env.NST_MODULE_TRACE });
