/**
 * Renders a `PanelState` as an HTML fragment (with inline SVG): the one panel that the VS Code
 * webview, the JupyterLab widget and the report page all show. Pure: no DOM, no clock, no
 * scripts, no inline `style` attributes or event handlers, so it works under a nonce-based CSP
 * (VS Code) as well as the report page's `default-src 'none'`. Bars are SVG rects sized by
 * attributes for that reason. Pair it with `PANEL_CSS`; editors wire buttons by `data-action`.
 */
import { renderChart } from './chart.js';
import { type SafeHtml, clip, html, userText } from './escape.js';
import {
  formatClock,
  formatDuration,
  formatInteger,
  formatLoss,
  formatMemory,
  formatPercent,
  formatUsd,
  unit,
} from './format.js';
import type { LogEntry, PanelState, PanelStatus, WorkerRow, WorkerState } from './state.js';

export interface RenderPanelOptions {
  /**
   * The width (CSS px) the panel is expected to be shown at. It sizes the chart's viewBox so the
   * chart's text is drawn near its nominal size; the layout itself follows the real width.
   * `responsive` draws a narrow and a wide chart and lets the stylesheet pick (static pages).
   */
  width?: number | 'responsive';
  /** Render `<button data-action="cancel">` while the run is running. */
  cancelButton?: boolean;
  /** Render `<button data-action="open-report">` once the run has ended (report.json exists then). */
  reportButton?: boolean;
  /** Rows of the worker table; failed and relaunched workers are listed first when there are more. */
  maxWorkerRows?: number;
  /** Entries of the event log, newest first. */
  maxLogEntries?: number;
  /** Pins the theme for this panel; by default it follows the page (`data-theme` or the OS). */
  theme?: 'light' | 'dark';
}

/** Panel padding, chart card padding and borders (see PANEL_CSS) around the chart's drawing. */
const CHART_INSET_PX = 2 * 16 + 2 * 12 + 2 * 2;

export const STATUS_LABELS: Record<PanelStatus, string> = {
  pending: 'Starting',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  'stopped-budget': 'Stopped at budget',
};

export function renderPanel(state: PanelState, options: RenderPanelOptions = {}): string {
  return panelHtml(state, options).value;
}

/** The panel as `SafeHtml`, for composing into a larger page. */
export function panelHtml(state: PanelState, options: RenderPanelOptions = {}): SafeHtml {
  const chartWidths =
    options.width === 'responsive' ? [360 - CHART_INSET_PX, 960 - CHART_INSET_PX] : [(options.width ?? 640) - CHART_INSET_PX];
  const name = state.name ?? 'New run';
  return html`<section class="smlt-panel" data-status="${state.status}"${options.theme ? html` data-theme="${options.theme}"` : ''}${
    state.runId ? html` data-run-id="${state.runId}"` : ''
  } aria-label="SMLT run ${clip(name, 200)}">
  ${header(state, options)}
  ${progress(state)}
  ${finalError(state)}
  ${finalWarnings(state)}
  ${stats(state)}
  ${renderChart(state, chartWidths)}
  ${decision(state)}
  ${workerTable(state, options.maxWorkerRows ?? 16)}
  ${eventLog(state.log, options.maxLogEntries ?? 8)}
</section>`;
}

function header(state: PanelState, options: RenderPanelOptions): SafeHtml {
  const meta = [
    state.runId ? html`<span>run ${userText(state.runId, 120)}</span>` : '',
    state.paramCount !== undefined ? html`<span>${formatInteger(state.paramCount)} parameters</span>` : '',
    state.trainSamples !== undefined
      ? html`<span>${formatInteger(state.trainSamples)} training / ${formatInteger(state.holdoutSamples)} held-out samples</span>`
      : '',
    state.platform ? html`<span>${userText(state.platform, 60)} platform</span>` : '',
  ].filter((part) => part !== '');
  const buttons = [
    options.cancelButton && state.status === 'running'
      ? html`<button type="button" class="smlt-button" data-action="cancel">Cancel run</button>`
      : '',
    options.reportButton && state.final
      ? html`<button type="button" class="smlt-button smlt-button-primary" data-action="open-report">Open report</button>`
      : '',
  ];
  return html`<header class="smlt-header">
    <div class="smlt-title">
      <h2 class="smlt-name">${userText(state.name ?? 'New run', 300)}</h2>
      ${meta.length > 0 ? html`<p class="smlt-meta">${meta}</p>` : ''}
    </div>
    <div class="smlt-header-side">
      <span class="smlt-badge" data-status="${state.status}"><span class="smlt-dot" aria-hidden="true"></span>${STATUS_LABELS[state.status]}</span>
      ${buttons}
    </div>
  </header>`;
}

function progress(state: PanelState): SafeHtml {
  const epochs = Math.max(state.epochs, 0);
  const inEpoch = state.epoch === state.epochsDone && state.iterations > 0 ? state.iteration / state.iterations : 0;
  const fraction = epochs > 0 ? unit((state.epochsDone + (state.status === 'succeeded' ? 0 : inEpoch)) / epochs) : 0;
  const percent = Math.round(fraction * 1000) / 10;
  const shownEpoch = epochs > 0 ? Math.min(state.epoch + 1, epochs) : state.epoch + 1;
  const ofEpochs = epochs > 0 ? ` of ${epochs}` : '';
  let label: string;
  let detail: string;
  if (state.status === 'pending') {
    label = 'Waiting for the run to start';
    detail = '';
  } else if (state.status === 'succeeded') {
    label = `All ${epochs} epoch${epochs === 1 ? '' : 's'} done`;
    detail = '';
  } else if (state.status === 'running') {
    label = `Epoch ${shownEpoch}${ofEpochs}`;
    detail = state.iterations > 0 ? `iteration ${formatInteger(state.iteration)} of ${formatInteger(state.iterations)}` : 'starting workers';
  } else {
    label = `Stopped in epoch ${shownEpoch}${ofEpochs}`;
    detail = `${state.epochsDone} epoch${state.epochsDone === 1 ? '' : 's'} done`;
  }
  const valueText = `${percent}%: ${label}${detail ? `, ${detail}` : ''}`;
  const separators = epochs > 1 && epochs <= 50 ? Array.from({ length: epochs - 1 }, (_, i) => (100 * (i + 1)) / epochs) : [];
  return html`<div class="smlt-progress">
    <div class="smlt-progress-text">
      <span class="smlt-progress-label"><strong>${label}</strong>${detail ? html`<span class="smlt-sep" aria-hidden="true"> · </span>${detail}` : ''}</span>
      <span class="smlt-eta">${etaText(state)}</span>
    </div>
    <div class="smlt-progressbar" role="progressbar" aria-label="Training progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${percent}" aria-valuetext="${valueText}">
      ${bar(fraction, 'smlt-fill', separators)}
    </div>
  </div>`;
}

function etaText(state: PanelState): string {
  if (state.status === 'running') {
    if (state.etaS === undefined) return 'estimating time left…';
    return state.etaS < 1 ? 'finishing…' : `about ${formatDuration(state.etaS)} left`;
  }
  if (state.status === 'pending') return '';
  return `${STATUS_LABELS[state.status].toLowerCase()} after ${formatDuration(state.elapsedS)}`;
}

/** A rounded bar as SVG (attribute-sized: no inline style, so no CSP exception is needed). */
function bar(fraction: number, fillClass: string, separators: number[] = [], marker?: number): SafeHtml {
  const width = `${Math.round(unit(fraction) * 1000) / 10}%`;
  return html`<svg class="smlt-bar" width="100%" height="8" aria-hidden="true" focusable="false">
      <rect class="smlt-track" x="0" y="0" width="100%" height="8" rx="4"/>
      ${fraction > 0 ? html`<rect class="${fillClass}" x="0" y="0" width="${width}" height="8" rx="4"/>` : ''}
      ${separators.map((p) => html`<rect class="smlt-bar-sep" x="${p.toFixed(2)}%" y="0" width="2" height="8"/>`)}
      ${marker !== undefined ? html`<rect class="smlt-bar-marker" x="${(unit(marker) * 100).toFixed(2)}%" y="0" width="2" height="8"/>` : ''}
    </svg>`;
}

function finalError(state: PanelState): SafeHtml | '' {
  const error = state.final?.error;
  if (!error || state.status !== 'failed') return '';
  return html`<div class="smlt-alert" role="alert">
    <strong class="smlt-alert-code">${userText(error.code, 80)}</strong>
    <span class="smlt-alert-text">${userText(error.message, 2000)}</span>
  </div>`;
}

/** A run that ended without training well (a NaN loss, a first epoch that did not learn): said, not hidden. */
function finalWarnings(state: PanelState): SafeHtml | '' {
  const warnings = state.final?.warnings ?? [];
  if (warnings.length === 0) return '';
  return html`<div class="smlt-alert smlt-alert-warning" role="alert">
    <strong class="smlt-alert-code">Training did not go well</strong>
    ${warnings.map((w) => html`<span class="smlt-alert-text">${userText(w, 2000)}</span>`)}
  </div>`;
}

function stats(state: PanelState): SafeHtml {
  const last = state.epochRows.at(-1);
  const lossLatest = last?.loss ?? state.lossPoints.at(-1)?.loss;
  const lossSub = last ? `epoch ${last.epoch + 1} mean` : state.lossPoints.length > 0 ? 'latest iteration' : 'no iterations yet';
  const accuracy = [...state.epochRows].reverse().find((r) => r.valAccuracy !== undefined);
  const config = state.config;
  return html`<dl class="smlt-stats">
    ${stat('Loss', formatLoss(lossLatest), lossSub, 'loss')}
    ${stat(
      'Accuracy',
      accuracy ? formatPercent(accuracy.valAccuracy, 2) : '—',
      accuracy ? `held out, after epoch ${accuracy.epoch + 1}` : 'held out, after each epoch',
      'accuracy',
    )}
    ${stat(
      'Workers',
      config ? `${config.workers} × ${formatMemory(config.memoryMb)}` : '—',
      config ? `${config.sync} sync` : 'not planned yet',
      'workers',
    )}
    ${spend(state)}
    ${elapsed(state)}
  </dl>`;
}

function stat(label: string, value: string, sub: string, key: string): SafeHtml {
  return html`<div class="smlt-stat" data-stat="${key}">
      <dt>${label}</dt>
      <dd class="smlt-value">${value}</dd>
      <dd class="smlt-sub">${sub}</dd>
    </div>`;
}

function spend(state: PanelState): SafeHtml {
  const budget = state.budgetUsd;
  if (budget === undefined) {
    return stat('Spend', formatUsd(state.spentUsd), 'as if on AWS Lambda + S3', 'spend');
  }
  const ratio = state.spentUsd / budget;
  const level = ratio >= 1 ? 'smlt-fill-danger' : ratio >= 0.8 ? 'smlt-fill-warning' : 'smlt-fill';
  return html`<div class="smlt-stat" data-stat="spend">
      <dt>Spend</dt>
      <dd class="smlt-value">${formatUsd(state.spentUsd)}<span class="smlt-of"> of ${formatUsd(budget)}</span></dd>
      <dd class="smlt-meter">${bar(ratio, level)}</dd>
      <dd class="smlt-sub">${formatPercent(ratio, 0)} of the budget</dd>
    </div>`;
}

function elapsed(state: PanelState): SafeHtml {
  const deadline = state.deadlineS;
  if (deadline === undefined) {
    return stat('Elapsed', formatDuration(state.elapsedS), state.status === 'running' ? 'no deadline set' : 'run time', 'elapsed');
  }
  const ratio = state.elapsedS / deadline;
  const projectedS = state.status === 'running' && state.etaS !== undefined ? state.elapsedS + state.etaS : undefined;
  const late = projectedS !== undefined && projectedS > deadline;
  const level = ratio >= 1 ? 'smlt-fill-danger' : late || ratio >= 0.8 ? 'smlt-fill-warning' : 'smlt-fill';
  const sub =
    projectedS === undefined
      ? `${formatPercent(ratio, 0)} of the deadline`
      : late
        ? `projected ${formatDuration(projectedS)}: over the deadline`
        : `projected ${formatDuration(projectedS)}: on time`;
  return html`<div class="smlt-stat" data-stat="elapsed"${late ? html` data-late="true"` : ''}>
      <dt>Elapsed</dt>
      <dd class="smlt-value">${formatDuration(state.elapsedS)}<span class="smlt-of"> of ${formatDuration(deadline)}</span></dd>
      <dd class="smlt-meter">${bar(ratio, level, [], projectedS !== undefined ? projectedS / deadline : undefined)}</dd>
      <dd class="smlt-sub">${sub}</dd>
    </div>`;
}

function decision(state: PanelState): SafeHtml | '' {
  const d = state.decision;
  if (!d) return '';
  return html`<section class="smlt-decision" aria-label="Scheduler decision">
    <div class="smlt-section-head"><h3 class="smlt-h">Scheduler</h3><span class="smlt-muted">for epoch ${d.epoch + 1}</span></div>
    <p class="smlt-decision-config"><strong>${d.workers} worker${d.workers === 1 ? '' : 's'} × ${formatMemory(d.memoryMb)}</strong>
      <span class="smlt-muted">· ${d.sync} sync · ${formatInteger(d.iterations)} iterations of ${formatInteger(d.perWorkerBatch)} samples per worker</span></p>
    <p class="smlt-reason">${userText(d.reason, 600)}</p>
    ${d.backend ? html`<p class="smlt-reason" data-backend="${clip(d.backend.name, 20)}"><strong>Backend</strong> ${userText(d.backend.reason, 400)}</p>` : ''}
  </section>`;
}

const STATE_LABELS: Record<WorkerState, string> = {
  waiting: 'waiting',
  running: 'running',
  relaunched: 'relaunched',
  done: 'done',
  failed: 'failed',
  stopped: 'stopped',
};
/** Which workers to keep when there are too many rows: trouble first. */
const STATE_INTEREST: Record<WorkerState, number> = { failed: 0, relaunched: 1, stopped: 2, running: 3, waiting: 4, done: 5 };

function workerTable(state: PanelState, maxRows: number): SafeHtml | '' {
  if (state.workers.length === 0) return '';
  const counts = new Map<WorkerState, number>();
  for (const w of state.workers) counts.set(w.state, (counts.get(w.state) ?? 0) + 1);
  const summary = [...counts].map(([s, count]) => `${count} ${STATE_LABELS[s]}`).join(', ');
  const shown =
    state.workers.length <= maxRows
      ? state.workers
      : [...state.workers].sort((a, b) => STATE_INTEREST[a.state] - STATE_INTEREST[b.state] || a.rank - b.rank).slice(0, maxRows).sort((a, b) => a.rank - b.rank);
  const hidden = state.workers.length - shown.length;
  return html`<section class="smlt-workers" aria-label="Workers">
    <div class="smlt-section-head"><h3 class="smlt-h">Workers</h3><span class="smlt-muted">epoch ${state.epoch + 1}: ${summary}</span></div>
    <table class="smlt-table">
      <thead><tr><th scope="col">Worker</th><th scope="col">State</th><th scope="col" class="smlt-num">Attempts</th><th scope="col" class="smlt-num smlt-col-memory">Memory</th><th scope="col">Backend</th></tr></thead>
      <tbody>${shown.map(workerRow)}</tbody>
    </table>
    ${hidden > 0 ? html`<p class="smlt-muted smlt-note">${hidden} more worker${hidden === 1 ? '' : 's'} not shown.</p>` : ''}
  </section>`;
}

function formatLaunch(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function workerRow(w: WorkerRow): SafeHtml {
  // Cold: a new container (runtime start, data download); warm: reused, data cached in /tmp.
  const kind = w.coldStart === undefined ? '' : w.coldStart ? 'cold start' : w.warmCache ? 'warm' : 'warm, data reloaded';
  const start = kind && w.launchMs !== undefined ? `${kind} in ${formatLaunch(w.launchMs)}` : kind;
  return html`<tr data-rank="${w.rank}" data-state="${w.state}">
      <th scope="row">${w.rank}</th>
      <td><span class="smlt-chip" data-state="${w.state}"${w.lastError ? html` title="${w.lastError}"` : ''}>${STATE_LABELS[w.state]}</span></td>
      <td class="smlt-num">${w.attempts}</td>
      <td class="smlt-num smlt-col-memory">${formatMemory(w.memoryMb)}</td>
      <td>${w.backend ? userText(w.backend, 40) : '—'}${start ? html` <span class="smlt-muted">· ${start}</span>` : ''}</td>
    </tr>`;
}

function eventLog(log: readonly LogEntry[], maxEntries: number): SafeHtml | '' {
  if (log.length === 0 || maxEntries <= 0) return '';
  const entries = log.slice(-maxEntries).reverse();
  return html`<section class="smlt-log" aria-label="Events">
    <div class="smlt-section-head"><h3 class="smlt-h">Events</h3><span class="smlt-muted">newest first</span></div>
    <ol class="smlt-log-list">${entries.map(
      (e) => html`<li data-level="${e.level}"><span class="smlt-dot" aria-hidden="true"></span><span class="smlt-log-time">${formatClock(e.atS)}</span><span class="smlt-log-text">${userText(e.text, 1000)}</span></li>`,
    )}</ol>
  </section>`;
}
