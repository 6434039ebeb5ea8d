/**
 * The Python with TensorFlow and Keras the Keras-notebook tests run (`.ci/setup.d/keras.sh`
 * builds it in .cache/keras-venv), and notebooks written as lists of cells.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KERAS_PYTHON = fileURLToPath(new URL('../../.cache/keras-venv/bin/python', import.meta.url));
export const DIGITS_NPZ = fileURLToPath(new URL('../../examples/data/digits.npz', import.meta.url));

/** A skip message when the Keras venv is missing, else false; throws instead in CI. */
export function kerasMissing(): string | false {
  if (existsSync(KERAS_PYTHON)) return false;
  const message = `the Keras venv is missing: bash .ci/setup.d/keras.sh`;
  if (process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${message}`);
  return message;
}

/** An nbformat 4 Python notebook of these code cells (a string starting with "md:" is a Markdown cell). */
export function pythonNotebook(cells: string[]): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
    cells: cells.map((source) =>
      source.startsWith('md:')
        ? { cell_type: 'markdown', metadata: {}, source: source.slice(3) }
        : { cell_type: 'code', metadata: {}, source, outputs: [], execution_count: null },
    ),
  };
}
