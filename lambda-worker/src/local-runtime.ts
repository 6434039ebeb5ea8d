/**
 * The local platform's container: a child process that runs the same handler as Lambda, one
 * invocation at a time, with a Lambda-shaped context whose deadline the parent sets. The
 * parent enforces memory and time limits by killing this process.
 */
import type { WorkerContext } from '@smlt/shared/backends/ports';
import type { ContainerMessage, InvokeMessage } from '@smlt/shared/backends/local/container-protocol';
import { handler } from './handler.js';

function send(message: ContainerMessage): void {
  process.send?.(message);
}

process.on('message', (message: InvokeMessage) => {
  if (message.type !== 'invoke') return;
  const context: WorkerContext = {
    functionName: message.functionName,
    memoryLimitInMB: String(message.memoryMb),
    awsRequestId: message.requestId,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  handler(message.event as Parameters<typeof handler>[0], context).then(
    (result) => send({ type: 'result', requestId: message.requestId, ok: true, result }),
    (err: unknown) =>
      send({
        type: 'result',
        requestId: message.requestId,
        ok: false,
        error: {
          name: err instanceof Error ? err.name : 'Error',
          code: (err as { code?: unknown })?.code as string | undefined,
          message: err instanceof Error ? err.message : String(err),
        },
      }),
  );
});

// The platform (the orchestrator's process) is gone: a container has no reason to live on.
process.on('disconnect', () => process.exit(0));

send({ type: 'ready' });
