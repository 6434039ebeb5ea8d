/**
 * The loss / held-out accuracy chart as inline SVG. No chart library: the panel must render in a
 * CSP-locked webview and in a report page with no scripts, and two lines need little code.
 * The viewBox is as wide as the panel is expected to be (`widthPx`), so axis text is drawn
 * close to its nominal size; `width="100%"` lets it follow the real width from there.
 * The x-axis spans the epochs the run has reached (all of them once it has succeeded), so the
 * first epoch's iteration losses fill the chart while it runs instead of 1/N of it.
 */
import { type SafeHtml, html } from './escape.js';
import { formatLoss, formatPercent } from './format.js';
import type { LossPoint, PanelState } from './state.js';

interface Scale {
  (value: number): number;
}

const FONT_PX = 11;

/**
 * `widthsPx`: one width draws one chart. Two (narrow, wide) draw both, and the stylesheet shows
 * the one that suits the panel's width (for a page read both on a phone and on a desktop).
 */
export function renderChart(state: PanelState, widthsPx: readonly number[]): SafeHtml {
  const description = describeTrend(state);
  const legend = html`<ul class="smlt-legend" aria-hidden="true">
      <li><span class="smlt-key smlt-key-iter"></span>loss per iteration</li>
      <li><span class="smlt-key smlt-key-loss"></span>loss per epoch</li>
      ${hasAccuracy(state) ? html`<li><span class="smlt-key smlt-key-acc"></span>held-out accuracy</li>` : ''}
    </ul>`;
  const head = html`<figcaption class="smlt-section-head"><h3 class="smlt-h">Training curve</h3>${legend}</figcaption>`;
  if (state.lossPoints.length === 0 && state.epochRows.length === 0) {
    return html`<figure class="smlt-chart">${head}<p class="smlt-empty">The curve appears after the first iterations.</p></figure>`;
  }
  const charts =
    widthsPx.length >= 2
      ? [chartSvg(state, widthsPx[0], description, 'narrow'), chartSvg(state, widthsPx[1], description, 'wide')]
      : [chartSvg(state, widthsPx[0] ?? 600, description)];
  return html`<figure class="smlt-chart">${head}${charts}</figure>`;
}

/** The chart's text alternative: where the loss went and where the accuracy went. */
export function describeTrend(state: PanelState): string {
  const rows = state.epochRows;
  const firstLoss = state.lossPoints[0]?.loss ?? rows[0]?.loss;
  const lastLoss = rows.at(-1)?.loss ?? state.lossPoints.at(-1)?.loss;
  if (firstLoss === undefined || lastLoss === undefined) return 'No training loss yet.';
  const progress = state.epochsDone + (state.epoch === state.epochsDone && state.iterations > 0 ? state.iteration / state.iterations : 0);
  const span =
    state.status === 'running'
      ? `over ${trimNumber(progress)} of ${state.epochs} epochs so far`
      : `over ${state.epochsDone} epoch${state.epochsDone === 1 ? '' : 's'}`;
  let text = `Training loss from ${formatLoss(firstLoss)} to ${formatLoss(lastLoss)} ${span}`;
  const accuracies = rows.filter((r) => r.valAccuracy !== undefined).map((r) => r.valAccuracy as number);
  if (accuracies.length === 1) text += `; held-out accuracy ${formatPercent(accuracies[0], 2)}`;
  if (accuracies.length > 1) {
    text += `; held-out accuracy from ${formatPercent(accuracies[0], 2)} to ${formatPercent(accuracies.at(-1), 2)}`;
  }
  return `${text}.`;
}

function chartSvg(state: PanelState, widthPx: number, description: string, fit?: 'narrow' | 'wide'): SafeHtml {
  const width = Math.round(Math.min(1600, Math.max(240, widthPx)));
  const height = width < 480 ? 170 : 210;
  const withAccuracy = hasAccuracy(state);
  const pad = { left: 38, right: withAccuracy ? 40 : 14, top: 10, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const epochs = chartEpochs(state);

  const losses = [...state.lossPoints.map((p) => p.loss), ...state.epochRows.map((r) => r.loss)].filter(Number.isFinite);
  const lossTicks = niceTicks(Math.max(...losses, 1e-9));
  const lossMax = lossTicks.at(-1) as number;
  const x: Scale = (epoch) => pad.left + (epoch / epochs) * plotW;
  const yLoss: Scale = (loss) => pad.top + plotH - (Math.max(0, loss) / lossMax) * plotH;

  const accuracies = state.epochRows.map((r) => r.valAccuracy).filter((a): a is number => a !== undefined && Number.isFinite(a));
  // Accuracy lives near the top; a tight lower bound keeps its changes visible.
  const accLow = Math.max(0, Math.floor((Math.min(...accuracies, 1) - 0.05) * 10) / 10);
  const yAcc: Scale = (acc) => pad.top + plotH - ((acc - accLow) / (1 - accLow || 1)) * plotH;

  const grid = lossTicks.map(
    (t) => html`<line class="smlt-grid" x1="${n(pad.left)}" x2="${n(pad.left + plotW)}" y1="${n(yLoss(t))}" y2="${n(yLoss(t))}"/>
      <text class="smlt-tick" x="${n(pad.left - 6)}" y="${n(yLoss(t) + FONT_PX / 3)}" text-anchor="end">${trimNumber(t)}</text>`,
  );
  const accTicks = withAccuracy
    ? [accLow, (accLow + 1) / 2, 1].map(
        (t) => html`<text class="smlt-tick smlt-tick-acc" x="${n(pad.left + plotW + 6)}" y="${n(yAcc(t) + FONT_PX / 3)}">${formatPercent(t, 0)}</text>`,
      )
    : [];
  // Epoch labels centred in their band: words when there is room, numbers (and an axis name) when not.
  const band = plotW / epochs;
  const words = band >= 64;
  const labelEvery = words ? 1 : Math.max(1, Math.ceil(22 / band));
  const bands = Array.from({ length: epochs }, (_, e) => {
    const labelled = (e + 1) % labelEvery === 0 || e === 0;
    return html`${e > 0 ? html`<line class="smlt-epoch-line" x1="${n(x(e))}" x2="${n(x(e))}" y1="${n(pad.top)}" y2="${n(pad.top + plotH)}"/>` : ''}
      ${labelled ? html`<text class="smlt-tick" x="${n((x(e) + x(e + 1)) / 2)}" y="${n(height - 7)}" text-anchor="middle">${words ? `epoch ${e + 1}` : `${e + 1}`}</text>` : ''}`;
  });
  const axisName = words ? '' : html`<text class="smlt-tick" x="0" y="${n(height - 7)}">epoch</text>`;

  const iterationPath = polyline(state.lossPoints.map((p) => [x(iterationPosition(p)), yLoss(p.loss)]));
  const epochLoss = state.epochRows.filter((r) => Number.isFinite(r.loss)).map((r) => [x(r.epoch + 1), yLoss(r.loss)] as const);
  const epochAcc = state.epochRows
    .filter((r) => r.valAccuracy !== undefined && Number.isFinite(r.valAccuracy))
    .map((r) => [x(r.epoch + 1), yAcc(r.valAccuracy as number)] as const);

  return html`<svg class="smlt-chart-svg"${fit ? html` data-fit="${fit}"` : ''} role="img" aria-label="${description}" viewBox="0 0 ${width} ${height}" width="100%" preserveAspectRatio="xMidYMid meet" font-size="${FONT_PX}" focusable="false">
    <title>${description}</title>
    ${grid}${accTicks}${bands}${axisName}
    <line class="smlt-axis" x1="${n(pad.left)}" x2="${n(pad.left + plotW)}" y1="${n(pad.top + plotH)}" y2="${n(pad.top + plotH)}"/>
    ${iterationPath ? html`<polyline class="smlt-series-iter" points="${iterationPath}"/>` : ''}
    ${epochLoss.length > 1 ? html`<polyline class="smlt-series-loss" points="${polyline(epochLoss)}"/>` : ''}
    ${epochLoss.map(([cx, cy]) => html`<circle class="smlt-dot-loss" cx="${n(cx)}" cy="${n(cy)}" r="3.5"/>`)}
    ${epochAcc.length > 1 ? html`<polyline class="smlt-series-acc" points="${polyline(epochAcc)}"/>` : ''}
    ${epochAcc.map(([cx, cy]) => html`<circle class="smlt-dot-acc" cx="${n(cx)}" cy="${n(cy)}" r="3.5"/>`)}
  </svg>`;
}

/**
 * How many epochs the x-axis spans: those done, the one in progress, and any with a loss point
 * (a run stopped mid-epoch). Not the planned total while running: in a 200-epoch run the first
 * epoch would be a few pixels wide and its curve look empty.
 */
function chartEpochs(state: PanelState): number {
  const inProgress = state.status === 'running' ? state.epoch + 1 : 0;
  const lastPointEpoch = state.lossPoints.reduce((last, p) => Math.max(last, p.epoch + 1), 0);
  const reached = Math.max(1, state.epochsDone, inProgress, lastPointEpoch);
  return Number.isFinite(reached) ? reached : 1;
}

/**
 * Where an iteration's loss goes on the x-axis, in epochs. `iteration` counts the iterations
 * finished (1 for the first), and its loss was measured before that iteration's update: the
 * first is the loss of the model as the epoch started, so it sits at the epoch's start.
 */
function iterationPosition(point: LossPoint): number {
  return point.epoch + Math.max(0, point.iteration - 1) / Math.max(1, point.iterations);
}

function hasAccuracy(state: PanelState): boolean {
  return state.epochRows.some((r) => r.valAccuracy !== undefined && Number.isFinite(r.valAccuracy));
}

/** 0 and 3–6 round steps up to at least `max`. */
function niceTicks(max: number): number[] {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const count = Math.max(1, Math.ceil(max / step - 1e-9));
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(6)));
}

function polyline(points: ReadonlyArray<readonly [number, number]>): string {
  return points.map(([px, py]) => `${n(px)},${n(py)}`).join(' ');
}

function n(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}

function trimNumber(value: number): string {
  return String(Number(value.toFixed(2)));
}
