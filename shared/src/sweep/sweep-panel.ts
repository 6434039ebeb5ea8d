/**
 * A design sweep's panel: the trials as a table (settings, epochs, metric, status, cost), the best
 * so far, spend against the budget, elapsed time against the deadline, and the held-out metric of
 * every trial over its epochs (inline SVG, like the run's chart). Built from the sweep's events
 * (sweep/sweep-events.ts) so a live view and a report replay alike; browser-safe.
 */
import type { SweepEvent, SweepEventOf, SweepStatus, TrialSummary } from './sweep-events.js';
import { describeValues } from '../capture/search-space.js';
import { type SafeHtml, html, userText } from '../panel/escape.js';
import { formatDuration, formatPercent, formatUsd } from '../panel/format.js';
import { reportPage } from '../panel/page.js';

export interface SweepTrialRow extends TrialSummary {
  /** The held-out metric at each rung it finished: (epochs, metric). */
  points: Array<{ epochs: number; metric: number }>;
}

export interface SweepPanelState {
  sweepId?: string;
  name?: string;
  status: SweepStatus;
  objective: SweepEventOf<'sweep_started'>['objective'];
  rungs: number[];
  eta: number;
  constraints: { budgetUsd?: number; deadlineS?: number };
  forecast?: SweepEventOf<'sweep_started'>['forecast'];
  trials: SweepTrialRow[];
  spentUsd: number;
  elapsedS: number;
  /** The latest reasons, newest last. */
  decisions: string[];
  final?: SweepEventOf<'sweep_finished'>;
  startedAtMs?: number;
  elapsedBeforeS: number;
}

const DECISIONS_KEPT = 12;

export function sweepStateFromEvents(events: Iterable<SweepEvent>): SweepPanelState {
  let state: SweepPanelState = { status: 'running', objective: { metric: 'accuracy', direction: 'maximize' }, rungs: [], eta: 3, constraints: {}, trials: [], spentUsd: 0, elapsedS: 0, elapsedBeforeS: 0, decisions: [] };
  for (const event of events) state = reduceSweep(state, event);
  return state;
}

export function reduceSweep(state: SweepPanelState, event: SweepEvent): SweepPanelState {
  const atMs = Date.parse(event.at);
  const next: SweepPanelState = { ...state, trials: state.trials.map((t) => ({ ...t, points: [...t.points] })), decisions: [...state.decisions] };
  if (next.startedAtMs !== undefined) next.elapsedS = Math.max(next.elapsedS, next.elapsedBeforeS + (atMs - next.startedAtMs) / 1000);
  const trial = (i: number) => next.trials[i];
  switch (event.type) {
    case 'sweep_started':
      Object.assign(next, {
        sweepId: event.sweepId,
        name: event.name,
        status: 'running',
        objective: event.objective,
        rungs: event.rungs,
        eta: event.eta,
        constraints: event.constraints,
        forecast: event.forecast,
        startedAtMs: atMs,
        // A resumed sweep's clock goes on from where the last drive stopped.
        elapsedBeforeS: next.elapsedS,
      });
      if (next.trials.length === 0) next.trials = event.trials.map((t) => ({ trial: t.trial, values: t.values, epochs: 0, costUsd: 0, status: 'waiting', points: [] }));
      delete next.final;
      break;
    case 'trial_started': {
      const t = trial(event.trial);
      if (t) Object.assign(t, { status: 'training', runId: event.runId });
      next.decisions.push(event.reason);
      break;
    }
    case 'decision':
      next.decisions.push(event.reason);
      break;
    case 'trial_finished': {
      const t = trial(event.trial);
      next.spentUsd += event.costUsd;
      if (!t) break;
      t.epochs = event.epochs;
      t.costUsd += event.costUsd;
      if (event.metric !== undefined) t.metric = event.metric;
      if (event.outcome === 'rung' && event.metric !== undefined) t.points.push({ epochs: event.epochs, metric: event.metric });
      t.status = event.outcome === 'failed' ? 'failed' : 'stopped';
      if (event.error) t.error = event.error;
      break;
    }
    case 'sweep_finished':
      next.status = event.status;
      next.final = event;
      next.spentUsd = event.costUsd;
      next.elapsedS = event.durationS;
      if (event.best) {
        const t = trial(event.best.trial);
        if (t) t.status = 'best';
      }
      break;
  }
  next.decisions = next.decisions.slice(-DECISIONS_KEPT);
  return next;
}

const STATUS_TEXT: Record<SweepStatus, string> = {
  running: 'Running',
  succeeded: 'Finished',
  'stopped-budget': 'Stopped at the budget',
  'stopped-deadline': 'Stopped at the deadline',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

export interface SweepPanelOptions {
  /** `<button data-action="cancel">` while the sweep runs (editors wire buttons by `data-action`). */
  cancelButton?: boolean;
  /** `<button data-action="open-report">` once it has ended. */
  reportButton?: boolean;
}

/** The panel, for an editor's webview or the report page. */
export function sweepPanelHtml(state: SweepPanelState, options: SweepPanelOptions = {}): SafeHtml {
  const best = bestRow(state);
  const metric = `val_${state.objective.metric}`;
  const { budgetUsd, deadlineS } = state.constraints;
  const buttons = [
    options.cancelButton && state.status === 'running' ? html`<button type="button" class="smlt-button" data-action="cancel">Cancel sweep</button>` : '',
    options.reportButton && state.final ? html`<button type="button" class="smlt-button smlt-button-primary" data-action="open-report">Open report</button>` : '',
  ];
  return html`<section class="smlt-panel smlt-sweep" aria-label="Design sweep">
  <header class="smlt-section-head smlt-sweep-head"><h2 class="smlt-h">Sweep ${userText(state.name ?? '', 120)}: ${STATUS_TEXT[state.status]}</h2>${buttons}</header>
  <p class="smlt-sweep-summary">${state.trials.length} trials, rungs of ${state.rungs.join(', ')} epochs, the best 1/${state.eta} go on; ${state.objective.direction} ${metric}.
    ${best?.metric !== undefined ? html`Best: trial ${best.trial + 1} (${userText(describeValues(best.values), 200)}), ${metric} ${formatMetric(best.metric, state)}.` : ''}</p>
  ${meter('Spend', state.spentUsd, budgetUsd, formatUsd, state.forecast?.costUsd.expected)}
  ${meter('Time', state.elapsedS, deadlineS, formatDuration, state.forecast?.timeS.expected)}
  ${sweepChart(state)}
  ${trialTable(state)}
  ${state.decisions.length > 0 ? html`<ul class="smlt-sweep-log" aria-label="Decisions">${state.decisions.map((d) => html`<li>${userText(d, 300)}</li>`)}</ul>` : ''}
</section>`;
}

/** The sweep as one self-contained HTML file (no scripts, nothing fetched: the run report's CSP). */
export function renderSweepReportPage(state: SweepPanelState): string {
  return reportPage(`SMLT sweep ${state.name ?? ''}: ${STATUS_TEXT[state.status].toLowerCase()}`, SWEEP_CSS, sweepPanelHtml(state));
}

export const SWEEP_CSS = `
.smlt-sweep-head { display: flex; gap: 8px; align-items: center; }
.smlt-sweep-head .smlt-h { flex: 1; }
.smlt-sweep-summary { margin: 4px 0 8px; font-size: 12px; }
/* Settings wrap between values, numbers never inside one. */
.smlt-sweep td { overflow-wrap: normal; word-break: normal; }
.smlt-sweep td.smlt-num { white-space: nowrap; }
.smlt-sweep-meter { display: grid; grid-template-columns: 4em 1fr auto; gap: 8px; align-items: center; font-size: 12px; margin: 4px 0; }
.smlt-sweep-meter svg { width: 100%; height: 8px; }
.smlt-sweep-fill { fill: var(--smlt-accent, #3b82f6); }
.smlt-sweep-track { fill: var(--smlt-border, #ddd); }
.smlt-sweep-forecast { fill: var(--smlt-fg, #333); }
.smlt-trial-line { fill: none; stroke: var(--smlt-muted, #888); stroke-width: 1.5; opacity: 0.7; }
.smlt-trial-line.smlt-best { stroke: var(--smlt-accent, #3b82f6); stroke-width: 2.5; opacity: 1; }
.smlt-trial-dot { fill: var(--smlt-muted, #888); }
.smlt-trial-dot.smlt-best { fill: var(--smlt-accent, #3b82f6); }
.smlt-sweep-log { font-size: 11px; color: var(--smlt-muted); margin: 8px 0 0; padding-inline-start: 16px; }
/* Narrow panels: each trial a small card of labelled values instead of a row too wide to read. */
@container smlt-panel (max-width: 460px) {
  .smlt-stack thead { display: none; }
  .smlt-stack tr { display: block; padding: 4px 0; border-bottom: 1px solid var(--smlt-border); }
  .smlt-stack tbody tr:last-child { border-bottom: none; }
  .smlt-stack th, .smlt-stack td { display: flex; justify-content: space-between; gap: 12px; border: none; padding: 1px 4px; text-align: end; }
  .smlt-stack [data-label]::before { content: attr(data-label); color: var(--smlt-muted); font-weight: 400; text-align: start; }
}
`;

function meter(label: string, value: number, limit: number | undefined, format: (x: number) => string, forecast?: number): SafeHtml {
  const scale = Math.max(limit ?? 0, value, forecast ?? 0, 1e-12);
  const pct = (x: number) => Math.min(100, (x / scale) * 100).toFixed(1);
  const text = limit !== undefined ? `${format(value)} of ${format(limit)}` : `${format(value)}${forecast !== undefined ? ` (predicted ${format(forecast)})` : ''}`;
  return html`<div class="smlt-sweep-meter"><span>${label}</span>
    <svg viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="${label}: ${text}">
      <rect class="smlt-sweep-track" x="0" y="0" width="100" height="8"/>
      <rect class="smlt-sweep-fill" x="0" y="0" width="${pct(value)}" height="8"/>
      ${forecast !== undefined ? html`<rect class="smlt-sweep-forecast" x="${pct(forecast)}" y="0" width="0.8" height="8"/>` : ''}
    </svg><span>${text}</span></div>`;
}

/** The held-out metric of each trial at the rungs it finished; the best trial drawn on top. */
function sweepChart(state: SweepPanelState): SafeHtml | '' {
  const rows = state.trials.filter((t) => t.points.length > 0);
  if (rows.length === 0) return '';
  const width = 600;
  const height = 200;
  const pad = { left: 60, right: 12, top: 10, bottom: 24 };
  const maxEpochs = Math.max(...state.rungs, ...rows.flatMap((t) => t.points.map((p) => p.epochs)), 1);
  const values = rows.flatMap((t) => t.points.map((p) => p.metric));
  const low = Math.min(...values);
  const high = Math.max(...values);
  const span = high - low || Math.abs(high) * 0.1 || 1;
  const x = (epochs: number) => pad.left + (epochs / maxEpochs) * (width - pad.left - pad.right);
  const y = (m: number) => pad.top + (1 - (m - (low - span * 0.05)) / (span * 1.1)) * (height - pad.top - pad.bottom);
  const ordered = [...rows].sort((a, b) => Number(a.status === 'best') - Number(b.status === 'best'));
  const label = `${state.objective.metric === 'accuracy' ? 'Held-out accuracy' : 'Held-out loss'} of ${rows.length} trials over their epochs; best ${formatMetric(state.objective.direction === 'maximize' ? high : low, state)}.`;
  const ticks = [low, (low + high) / 2, high];
  return html`<figure class="smlt-chart"><figcaption class="smlt-section-head"><h3 class="smlt-h">val_${state.objective.metric} by trial</h3></figcaption>
  <svg class="smlt-chart-svg" role="img" aria-label="${label}" viewBox="0 0 ${width} ${height}" width="100%" font-size="11">
    <title>${label}</title>
    ${ticks.map((t) => html`<line class="smlt-grid" x1="${pad.left}" x2="${width - pad.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/>
      <text class="smlt-tick" x="${pad.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${formatMetric(t, state)}</text>`)}
    ${state.rungs.map((r) => html`<text class="smlt-tick" x="${x(r).toFixed(1)}" y="${height - 7}" text-anchor="middle">${r}</text>`)}
    <line class="smlt-axis" x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}"/>
    ${ordered.map((t) => {
      const best = t.status === 'best' ? ' smlt-best' : '';
      const points = t.points.map((p) => `${x(p.epochs).toFixed(1)},${y(p.metric).toFixed(1)}`).join(' ');
      return html`${t.points.length > 1 ? html`<polyline class="smlt-trial-line${best}" points="${points}"/>` : ''}
        ${t.points.map((p) => html`<circle class="smlt-trial-dot${best}" cx="${x(p.epochs).toFixed(1)}" cy="${y(p.metric).toFixed(1)}" r="3"><title>trial ${t.trial + 1}: ${formatMetric(p.metric, state)} after ${p.epochs} epochs</title></circle>`)}`;
    })}
  </svg></figure>`;
}

function trialTable(state: SweepPanelState): SafeHtml {
  const direction = state.objective.direction === 'maximize' ? -1 : 1;
  const ranked = [...state.trials].sort((a, b) => (a.metric === undefined ? 1 : b.metric === undefined ? -1 : direction * (a.metric - b.metric)) || a.trial - b.trial);
  return html`<table class="smlt-table smlt-stack" aria-label="Trials">
    <thead><tr><th scope="col">Trial</th><th scope="col">Settings</th><th scope="col" class="smlt-num">Epochs</th>
      <th scope="col" class="smlt-num">val_${state.objective.metric}</th><th scope="col">Status</th><th scope="col" class="smlt-num">Cost</th></tr></thead>
    <tbody>${ranked.map(
      (t) => html`<tr>
      <th scope="row" data-label="Trial">${t.trial + 1}</th>
      <td data-label="Settings">${userText(describeValues(t.values), 300)}</td>
      <td class="smlt-num" data-label="Epochs">${t.epochs}</td>
      <td class="smlt-num" data-label="Metric">${t.metric !== undefined ? formatMetric(t.metric, state) : '—'}</td>
      <td data-label="Status">${t.status}${t.error ? html`: ${userText(t.error, 200)}` : ''}</td>
      <td class="smlt-num" data-label="Cost">${formatUsd(t.costUsd)}</td>
    </tr>`,
    )}</tbody>
  </table>`;
}

function bestRow(state: SweepPanelState): SweepTrialRow | undefined {
  const done = state.trials.filter((t) => t.metric !== undefined && t.status !== 'failed');
  const sign = state.objective.direction === 'maximize' ? 1 : -1;
  return state.trials.find((t) => t.status === 'best') ?? done.sort((a, b) => sign * (b.metric! - a.metric!))[0];
}

function formatMetric(value: number, state: Pick<SweepPanelState, 'objective'>): string {
  return formatSweepMetric(value, state.objective.metric);
}

export function formatSweepMetric(value: number, metric: 'accuracy' | 'loss'): string {
  return metric === 'accuracy' ? formatPercent(value, 2) : value.toFixed(4);
}

/** "succeeded (every rung done): $0.0200, 42 s; best trial 3 (lr=0.003, units=128) val_accuracy 95.55 %" */
export function sweepOutcomeText(finished: SweepEventOf<'sweep_finished'>, metric: 'accuracy' | 'loss'): string {
  const { best } = finished;
  return (
    `${finished.status} (${finished.reason}): ${formatUsd(finished.costUsd)}, ${formatDuration(finished.durationS)}` +
    (best ? `; best trial ${best.trial + 1} (${describeValues(best.values)}) val_${metric} ${formatSweepMetric(best.metric, metric)}` : '')
  );
}
