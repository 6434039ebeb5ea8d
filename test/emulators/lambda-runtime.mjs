// The Lambda emulator's execution environment: a LocalPlatform container (it speaks the
// container protocol) that behaves as Lambda's Node.js runtime does. At start-up (the init
// phase) it imports the handler module named by _HANDLER from LAMBDA_TASK_ROOT (the unpacked
// zip); each invocation calls the exported handler with the event and a Lambda context, and
// answers what Lambda would put in the Invoke response: the JSON payload, or the error as
// Lambda's runtime reports it ({errorType: err.name, errorMessage, trace}), which drops every
// other property of the error. Kills (memory, time, faults) are the platform's business.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const taskRoot = process.env.LAMBDA_TASK_ROOT;
const handlerSetting = process.env._HANDLER ?? '';
process.chdir(taskRoot);

const init = await loadHandler();

process.on('message', async (message) => {
  if (message.type !== 'invoke') return;
  const { requestId, event } = message.event;
  const reply = (result) => process.send({ type: 'result', requestId: message.requestId, ok: true, result });
  if ('error' in init) return reply({ error: init.error });
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: message.event.invokedFunctionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  try {
    const value = await callHandler(init.handler, event, context);
    let payload;
    try {
      payload = value === undefined ? 'null' : JSON.stringify(value);
    } catch (err) {
      return reply({ error: { errorType: 'Runtime.MalformedHandlerResponse', errorMessage: `The handler's result is not JSON: ${err.message}`, trace: [] } });
    }
    reply({ payload });
  } catch (err) {
    reply({ error: runtimeError(err) });
  }
});

process.send({ type: 'ready' });

/** Imports `<module>.mjs|.js|.cjs` from the task root and finds the export, as Lambda's runtime does. */
async function loadHandler() {
  const dot = handlerSetting.lastIndexOf('.');
  const [moduleName, exportName] = dot > 0 ? [handlerSetting.slice(0, dot), handlerSetting.slice(dot + 1)] : [handlerSetting, ''];
  if (!moduleName || !exportName) {
    return { error: { errorType: 'Runtime.MalformedHandlerName', errorMessage: `Bad handler ${handlerSetting}: expected <module>.<export>, e.g. index.handler`, trace: [] } };
  }
  const file = ['.mjs', '.js', '.cjs'].map((ext) => join(taskRoot, moduleName + ext)).find((f) => existsSync(f));
  if (!file) {
    return { error: { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: Cannot find module '${moduleName}'`, trace: [] } };
  }
  let module;
  try {
    module = await import(pathToFileURL(file).href);
  } catch (err) {
    const errorType = err instanceof SyntaxError ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError';
    return { error: { ...runtimeError(err), errorType } };
  }
  const handler = module[exportName] ?? module.default?.[exportName];
  if (typeof handler !== 'function') {
    return { error: { errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerSetting} is undefined or not exported`, trace: [] } };
  }
  return { handler };
}

/** Async handlers return a promise; callback-style ones (three parameters) call back. */
function callHandler(handler, event, context) {
  if (handler.length < 3) return handler(event, context);
  return new Promise((resolve, reject) => {
    const result = handler(event, context, (err, value) => (err ? reject(err) : resolve(value)));
    if (result && typeof result.then === 'function') result.then(resolve, reject);
  });
}

function runtimeError(err) {
  if (err instanceof Error) {
    return { errorType: err.name, errorMessage: err.message, trace: (err.stack ?? '').split('\n') };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}
