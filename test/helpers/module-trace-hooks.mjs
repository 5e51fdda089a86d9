// The resolve hook of module-trace.mjs (module hooks run on a thread of their own).
import { appendFileSync } from 'node:fs';

let trace;

export function initialize(file) {
  trace = file;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(trace, `${resolved.url}\n`);
  return resolved;
}
