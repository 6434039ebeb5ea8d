/**
 * How long a local worker process takes to start on this machine, remembered across runs in
 * `$SMLT_HOME/local-worker-starts.json` (the last few cold starts the local platform saw), so
 * that the next plan of a local run starts from this machine's figure rather than a constant.
 * It is a hint: a file that cannot be read or written is ignored.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { smltHome } from '../../home.js';

/** Cold starts kept: enough for a median that one slow start does not move. */
const KEPT = 9;

const startsFile = () => join(smltHome(), 'local-worker-starts.json');

function readStarts(): number[] {
  try {
    const { startsMs } = JSON.parse(readFileSync(startsFile(), 'utf8')) as { startsMs?: unknown };
    return Array.isArray(startsMs) ? startsMs.filter((ms): ms is number => typeof ms === 'number' && ms > 0 && ms < 600_000) : [];
  } catch {
    return [];
  }
}

/** Remembers one cold start of a worker process (from the call to the process being ready). */
export function recordWorkerStart(ms: number): void {
  if (!(ms > 0)) return;
  try {
    mkdirSync(smltHome(), { recursive: true });
    writeFileSync(startsFile(), `${JSON.stringify({ startsMs: [...readStarts(), Math.round(ms)].slice(-KEPT) })}\n`);
  } catch {
    // A read-only or full home folder: the next plan uses the default.
  }
}

/** The median of the remembered cold starts, in seconds; undefined before the first local run. */
export function typicalWorkerStartS(): number | undefined {
  const starts = readStarts().sort((a, b) => a - b);
  if (starts.length === 0) return undefined;
  return starts[Math.floor(starts.length / 2)]! / 1000;
}
