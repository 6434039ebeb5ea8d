/** Messages between the local platform and a container process (`lambda-worker` local runtime). */
export interface InvokeMessage {
  type: 'invoke';
  requestId: string;
  functionName: string;
  memoryMb: number;
  /** Absolute time (ms since epoch) at which the platform kills the invocation. */
  deadline: number;
  event: unknown;
}

export type ContainerMessage =
  | { type: 'ready' }
  | {
      type: 'result';
      requestId: string;
      ok: true;
      result: unknown;
    }
  | {
      type: 'result';
      requestId: string;
      ok: false;
      error: { name: string; code?: string; message: string };
    };
