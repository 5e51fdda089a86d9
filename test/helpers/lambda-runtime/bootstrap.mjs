/**
 * A stand-in for Lambda's Node.js runtime (test/helpers/lambda-runtime.ts starts it as /var/runtime/bootstrap.mjs
 * in Lambda's file layout): it registers the NODE_PATH resolve hook, imports the handler that `_HANDLER`
 * names from LAMBDA_TASK_ROOT, and invokes it once per event in invocations.json, one after another in this
 * process as a warm container would, each with a Lambda context and the function's timeout as its
 * deadline (invocations.json also gives the timeout, the function's ARN and the host paths to look for).
 * Without `invocations` there, the events come as they are sent: JSON lines `{ requestId, event }` on
 * stdin, each invoked in turn, until stdin ends (a caller that decides each event from the last result,
 * as Step Functions does).
 * Reports go to file descriptor 3 as JSON lines; stdout and stderr are the function's logs.
 */
import { existsSync, readFileSync, writeSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const report = (kind, fields) => writeSync(3, `${JSON.stringify({ kind, ...fields })}\n`);
const seconds = (since) => (performance.now() - since) / 1000;
const env = process.env;

/** Lambda's shape of a failed invocation. */
const errorOf = (e) => ({
  errorType: e?.name ?? typeof e,
  errorMessage: e instanceof Error ? e.message : String(e),
  ...(e?.code ? { code: e.code } : {}),
  stack: e instanceof Error ? e.stack?.split('\n') : undefined,
});

for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (e) => {
    report('fatal', { event, error: errorOf(e) });
    process.exit(129);
  });
}

/** `index.handler` -> the first of index.js, index.mjs, index.cjs in the task root, and its export. */
function handlerModule() {
  const [moduleName, exportName] = env._HANDLER.split('.');
  const file = ['.js', '.mjs', '.cjs']
    .map((ext) => path.join(env.LAMBDA_TASK_ROOT, moduleName + ext))
    .find((f) => existsSync(f));
  if (!file) throw new Error(`Runtime.ImportModuleError: no ${moduleName} module in ${env.LAMBDA_TASK_ROOT}`);
  return { url: pathToFileURL(file).href, exportName };
}

function contextFor(requestId) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

const { timeoutSeconds, invokedFunctionArn, invocations, absent } = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'invocations.json'), 'utf8'),
);

report('start', {
  node: process.version,
  cwd: process.cwd(),
  uid: process.getuid(),
  // Host paths the function must not find (the checkout): none of the host is in its root.
  found: Object.fromEntries(absent.map((p) => [p, existsSync(p)])),
});
register('./node-path-hook.mjs', import.meta.url);
const { url, exportName } = handlerModule();
let started = performance.now();
const handler = (await import(url))[exportName];
report('init', { importSeconds: seconds(started), handlerType: typeof handler });

/** The events: invocations.json's, or JSON lines on stdin as they come. */
async function* events() {
  if (invocations) {
    yield* invocations;
    return;
  }
  for await (const line of createInterface({ input: process.stdin })) if (line.trim()) yield JSON.parse(line);
}

for await (const { requestId, event } of events()) {
  started = performance.now();
  try {
    const result = await handler(event, contextFor(requestId));
    report('invocation', { requestId, seconds: seconds(started), result });
  } catch (e) {
    report('invocation', { requestId, seconds: seconds(started), error: errorOf(e) });
  }
}
// Lambda would freeze the process here; timers the function left behind must not keep this one alive.
process.exit(0);
