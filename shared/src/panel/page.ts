/**
 * A run as one self-contained HTML file to share: the live panel's view of the finished run,
 * plus the per-epoch table and the scheduler's decisions. No scripts and nothing fetched: its CSP
 * allows only the inline stylesheet and `data:` images, so the file is safe to open from email
 * or attach to an issue even though run names and messages come from users.
 */
import type { RunReport } from '../run/outputs.js';
import { type SafeHtml, html, raw, userText } from './escape.js';
import { formatDuration, formatInteger, formatLoss, formatMemory, formatPercent, formatUsd } from './format.js';
import { panelHtml, STATUS_LABELS } from './render.js';
import { type EpochRow, LOG_LIMIT, type PanelState } from './state.js';
import { PANEL_CSS } from './styles.js';

export { panelStateFromEvents } from './state.js';

export const REPORT_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";


export function renderReportPage(state: PanelState, report?: RunReport): string {
  const name = state.name ?? report?.name ?? 'SMLT run';
  const status = STATUS_LABELS[state.status].toLowerCase();
  const epochs: readonly EpochRow[] = report?.epochs?.length ? report.epochs : state.epochRows;
  return reportPage(
    `SMLT run ${name}: ${status}`,
    PAGE_CSS,
    html`${panelHtml(state, { width: 'responsive', maxLogEntries: LOG_LIMIT, maxWorkerRows: 64 })}
<div class="smlt-report">
${epochTable(epochs)}
${decisionTable(state)}
${runDetails(state, report)}
<p class="smlt-footnote">Costs are what the run would cost on AWS Lambda (x86_64, at the configured memory) plus S3 requests. Accuracy and held-out loss are measured on data never trained on.</p>
</div>`,
  );
}

/** A self-contained page (a run's or a sweep's report): the locked-down CSP, the panel's styles plus `css`, `body` in the page's main. */
export function reportPage(title: string, css: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${raw(REPORT_PAGE_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="generator" content="SMLT">
<title>${title}</title>
<style>${raw(PANEL_CSS)}${raw(css)}</style>
</head>
<body>
<main class="smlt-page">
${body}
</main>
</body>
</html>
`.value;
}

function epochTable(rows: readonly EpochRow[]): SafeHtml | '' {
  if (rows.length === 0) return '';
  return html`<section class="smlt-report-section" aria-label="Epochs">
  <h2 class="smlt-report-h">Epochs</h2>
  <table class="smlt-table smlt-stack">
    <thead><tr>
      <th scope="col">Epoch</th><th scope="col" class="smlt-num">Workers</th><th scope="col" class="smlt-num">Memory</th>
      <th scope="col" class="smlt-num">Loss</th><th scope="col" class="smlt-num">Held-out loss</th><th scope="col" class="smlt-num">Accuracy</th>
      <th scope="col" class="smlt-num">Time</th><th scope="col" class="smlt-num">Cost</th><th scope="col" class="smlt-num">Relaunches</th>
    </tr></thead>
    <tbody>${rows.map(
      (r) => html`<tr>
      <th scope="row" data-label="Epoch">${formatInteger(r.epoch + 1)}</th>
      <td class="smlt-num" data-label="Workers">${formatInteger(r.workers)}</td>
      <td class="smlt-num" data-label="Memory">${formatMemory(r.memoryMb)}</td>
      <td class="smlt-num" data-label="Loss">${formatLoss(r.loss)}</td>
      <td class="smlt-num" data-label="Held-out loss">${formatLoss(r.valLoss)}</td>
      <td class="smlt-num" data-label="Accuracy">${formatPercent(r.valAccuracy, 2)}</td>
      <td class="smlt-num" data-label="Time">${formatDuration(r.durationS)}</td>
      <td class="smlt-num" data-label="Cost">${formatUsd(r.costUsd)}</td>
      <td class="smlt-num" data-label="Relaunches">${formatInteger(r.relaunches)}</td>
    </tr>`,
    )}</tbody>
  </table>
</section>`;
}

function decisionTable(state: PanelState): SafeHtml | '' {
  if (state.decisions.length === 0) return '';
  return html`<section class="smlt-report-section" aria-label="Scheduler decisions">
  <h2 class="smlt-report-h">Scheduler decisions</h2>
  <table class="smlt-table smlt-stack">
    <thead><tr><th scope="col">Epoch</th><th scope="col">Configuration</th><th scope="col">Reason</th></tr></thead>
    <tbody>${state.decisions.map(
      (d) => html`<tr>
      <th scope="row" data-label="Epoch">${formatInteger(d.epoch + 1)}</th>
      <td data-label="Configuration">${formatInteger(d.workers)} × ${formatMemory(d.memoryMb)}, ${d.sync} sync, ${formatInteger(d.iterations)} iterations</td>
      <td data-label="Reason">${userText(d.reason, 600)}</td>
    </tr>`,
    )}</tbody>
  </table>
</section>`;
}

function runDetails(state: PanelState, report: RunReport | undefined): SafeHtml {
  const training = report?.training;
  const cost = report?.cost;
  const error = state.final?.error ?? report?.error;
  const items: Array<[string, SafeHtml | string]> = [
    ['Run', userText(state.runId ?? report?.runId ?? '—', 120)],
    ...(report?.notebook ? [['Notebook', userText(report.notebook, 500)] as [string, SafeHtml]] : []),
    ...(report?.createdAt ? [['Started', userText(report.createdAt, 40)] as [string, SafeHtml]] : []),
    ['Status', STATUS_LABELS[state.status]],
    ['Duration', formatDuration(state.final?.durationS ?? report?.durationS ?? state.elapsedS)],
    ['Cost', formatUsd(state.final?.costUsd ?? report?.costUsd ?? state.spentUsd)],
    ...(cost
      ? [
          [
            'Cost detail',
            `${formatUsd(cost.computeUsd)} compute, ${formatInteger(cost.invocations)} invocations, ` +
              `S3 requests: ${formatInteger(cost.requests?.put)} put, ${formatInteger(cost.requests?.get)} get, ${formatInteger(cost.requests?.list)} list`,
          ] as [string, string],
        ]
      : []),
    ...(training
      ? [
          [
            'Training',
            html`${formatInteger(training.epochs)} epochs, batch ${formatInteger(training.batchSize)}, ${userText(training.optimizer, 40)} at learning rate ${userText(training.learningRate, 20)}, ${userText(training.loss, 60)}`,
          ] as [string, SafeHtml],
        ]
      : []),
    ...(report?.model ? [['Model', html`${formatInteger(report.model.paramCount)} parameters, from ${userText(report.model.origin, 40)}`] as [string, SafeHtml]] : []),
    ...((state.final?.modelPath ?? report?.modelPath) ? [['Model files', userText(state.final?.modelPath ?? report?.modelPath, 500)] as [string, SafeHtml]] : []),
    ...(error ? [['Error', html`${userText(error.code, 80)}: ${userText(error.message, 2000)}`] as [string, SafeHtml]] : []),
  ];
  return html`<section class="smlt-report-section" aria-label="Run details">
  <h2 class="smlt-report-h">Run</h2>
  <dl class="smlt-details">${items.map(([label, value]) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`)}</dl>
</section>`;
}

/** The page around the panel; tables turn into label/value cards when the page is narrow. */
const PAGE_CSS = `
html, body { margin: 0; background: var(--smlt-bg); color: var(--smlt-fg); }
body { font-family: var(--smlt-font); font-size: var(--smlt-font-size); line-height: 1.45; }
.smlt-page { box-sizing: border-box; max-width: 960px; margin: 0 auto; padding: 16px; display: flex; flex-direction: column; gap: 24px; }
.smlt-report { container: smlt-report / inline-size; display: flex; flex-direction: column; gap: 24px; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.smlt-report *, .smlt-report *::before, .smlt-report *::after { box-sizing: border-box; min-width: 0; }
.smlt-report-h { margin: 0 0 8px; font-size: 15px; font-weight: 650; }
.smlt-report .smlt-table { width: 100%; border-collapse: collapse; font-size: 12px; }
.smlt-report .smlt-table th, .smlt-report .smlt-table td { padding: 6px 8px; text-align: start; border-bottom: 1px solid var(--smlt-border); }
.smlt-report .smlt-table thead th { color: var(--smlt-muted); font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.03em; }
.smlt-report .smlt-table .smlt-num { text-align: end; }
.smlt-details { margin: 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 260px), 1fr)); gap: 8px 24px; }
.smlt-details div { display: flex; flex-direction: column; gap: 2px; padding: 6px 0; border-bottom: 1px solid var(--smlt-border); }
.smlt-details dt { color: var(--smlt-muted); font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; }
.smlt-details dd { margin: 0; }
.smlt-footnote { margin: 0; color: var(--smlt-muted); font-size: 12px; }
@container smlt-report (max-width: 640px) {
  .smlt-stack thead { display: none; }
  .smlt-stack, .smlt-stack tbody { display: block; }
  .smlt-stack tr { display: grid; grid-template-columns: repeat(auto-fill, minmax(84px, 1fr)); gap: 6px 12px; padding: 10px 0; border-bottom: 1px solid var(--smlt-border); }
  .smlt-report .smlt-table.smlt-stack > * > tr > * { display: flex; flex-direction: column; padding: 0; border: none; text-align: start; }
  .smlt-report .smlt-stack td[data-label="Configuration"], .smlt-report .smlt-stack td[data-label="Reason"] { grid-column: 1 / -1; }
  .smlt-stack [data-label]::before { content: attr(data-label); color: var(--smlt-muted); font-size: 11px; font-weight: 600; }
}
`;
