/**
 * Shows a run's events on the terminal: a live bar (epoch, iteration, loss, ETA, spend) on a
 * TTY, one line per epoch otherwise, or one JSON object per line with `--json`.
 */
import cliProgress from 'cli-progress';
import { costOn } from '../panel/format.js';
import type { RunEvent } from '../run/events.js';

export type OutputMode = 'json' | 'tty' | 'plain';

export function outputMode(json: boolean): OutputMode {
  if (json) return 'json';
  return process.stderr.isTTY ? 'tty' : 'plain';
}

export function progressPrinter(mode: OutputMode): { onEvent(event: RunEvent): void; stop(): void } {
  if (mode === 'json') {
    return { onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`), stop: () => undefined };
  }
  let epochs = 1;
  let iterations = 1;
  let startedAt = Date.now();
  let doneBefore = 0;
  let spent = 0;
  let platform: string | undefined;
  const bar =
    mode === 'tty'
      ? new cliProgress.SingleBar(
          {
            format: 'epoch {epochNo}/{epochs} {bar} {value}/{total} it | loss {loss} | ETA {etaText} | ${spent}',
            barCompleteChar: '█',
            barIncompleteChar: '░',
            hideCursor: true,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  const line = (text: string) => {
    if (bar) bar.stop();
    process.stderr.write(`${text}\n`);
  };
  let backendShown = false;
  const eta = (iteration: number): string => {
    const done = doneBefore + iteration;
    const total = epochs * iterations;
    if (done <= 0) return '…';
    const perIteration = (Date.now() - startedAt) / 1000 / done;
    return `${Math.max(0, Math.round((total - done) * perIteration))}s`;
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case 'run_started':
          epochs = event.epochs;
          platform = event.platform;
          startedAt = Date.now();
          doneBefore = 0;
          line(
            `run ${event.runId}: ${event.name}, ${event.paramCount.toLocaleString('en-US')} parameters, ` +
              `${event.trainSamples} training / ${event.holdoutSamples} held-out samples, ${event.platform} platform`,
          );
          break;
        case 'plan':
          iterations = event.iterations;
          // The backend is the run's, named once: with the first plan of this drive.
          if (event.backend && !backendShown) line(`backend ${event.backend.reason}`);
          backendShown ||= event.backend !== undefined;
          if (!bar) line(`epoch ${event.epoch + 1}/${epochs}: ${event.workers} workers × ${event.memoryMb} MB, ${event.iterations} iterations, ${event.sync} sync`);
          bar?.start(event.iterations, 0, { epochNo: event.epoch + 1, epochs, loss: '…', etaText: '…', spent: spent.toFixed(4) });
          break;
        case 'progress':
          bar?.update(event.iteration, { loss: event.loss.toFixed(4), etaText: eta(event.iteration), spent: spent.toFixed(4) });
          break;
        case 'worker_failed':
          line(`  worker ${event.rank} failed (${event.reason}): ${event.message}`);
          break;
        case 'worker_relaunched':
          if (event.why === 'failure') line(`  worker ${event.rank} relaunched at iteration ${event.fromIteration}`);
          break;
        case 'epoch_finished': {
          doneBefore += iterations;
          const accuracy = event.valAccuracy !== undefined ? `, held-out accuracy ${(event.valAccuracy * 100).toFixed(2)}%` : '';
          line(`epoch ${event.epoch + 1}/${epochs}: loss ${event.loss.toFixed(4)}${accuracy}, ${event.durationS.toFixed(1)} s`);
          break;
        }
        case 'cost':
          spent = event.spentUsd;
          break;
        case 'run_finished':
          line(
            `${event.status}: ${event.durationS.toFixed(1)} s, ${costOn(`$${event.costUsd.toFixed(4)}`, platform)}` +
              (event.modelPath ? `\nmodel: ${event.modelPath}` : '') +
              (event.reportPath ? `\nreport: ${event.reportPath}` : '') +
              (event.error ? `\nerror [${event.error.code}]: ${event.error.message}` : '') +
              (event.warnings ?? []).map((w) => `\nwarning: ${w}`).join(''),
          );
          break;
        default:
          break;
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
