/**
 * One error type for everything SMLT rejects or fails at. `code` is stable (tests, clients and
 * the HTTP API match on it); `message` says what went wrong and what to do; `cause` keeps the
 * original error.
 */
export type SmltErrorCode =
  // notebook capture and spec validation
  | 'NOTEBOOK_UNREADABLE'
  | 'NOTEBOOK_INVALID'
  | 'MODEL_CELL_MISSING'
  | 'MODEL_CODE_FAILED'
  | 'MODEL_CODE_TIMEOUT'
  | 'MODEL_NOT_RETURNED'
  | 'MODEL_UNSUPPORTED_LAYER'
  | 'MODEL_INVALID'
  /** More parameters than the largest worker can train (capture/capture.ts). */
  | 'MODEL_TOO_LARGE'
  | 'DATA_CELL_MISSING'
  | 'DATA_INVALID'
  | 'DATA_UNREADABLE'
  | 'SHAPE_MISMATCH'
  | 'CONFIG_INVALID'
  | 'UNKNOWN_LOSS'
  | 'UNKNOWN_OPTIMIZER'
  | 'UNKNOWN_METRIC'
  | 'OPTION_INVALID'
  /** A sweep cell's space or settings (sweep/space.ts). */
  | 'SWEEP_INVALID'
  // Python notebooks run to their Keras model.fit (capture/python-cells.ts)
  | 'PYTHON_NOT_FOUND'
  | 'PYTHON_CELL_FAILED'
  | 'PYTHON_TIMEOUT'
  | 'KERAS_FIT_MISSING'
  | 'KERAS_UNSUPPORTED'
  // running
  | 'STORE_ERROR'
  | 'AWS_ERROR'
  | 'STORE_KEY_INVALID'
  /** An object's bytes fail their checksum (retryable: a re-read may get intact bytes). */
  | 'STORE_CORRUPT'
  | 'SYNC_TIMEOUT'
  | 'WORKER_FAILED'
  | 'WORKER_OUT_OF_MEMORY'
  | 'WORKER_TIMEOUT'
  | 'RUN_NOT_FOUND'
  | 'RUN_BUSY'
  | 'RUN_FAILED'
  | 'BUDGET_EXHAUSTED'
  | 'CANCELLED';

export class SmltError extends Error {
  override readonly name = 'SmltError';
  constructor(
    readonly code: SmltErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: SmltErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isSmltError(err: unknown, code?: SmltErrorCode): err is SmltError {
  // Duck-typed so errors crossing a process boundary or a second module copy still match.
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'SmltError' &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (code === undefined || (err as { code: string }).code === code)
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A value from the user's input as a message quotes it: as JSON, cut to `max` characters. */
export function quoted(value: unknown, max = 80): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
