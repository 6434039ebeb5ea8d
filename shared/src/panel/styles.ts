/**
 * The panel's stylesheet, as a string each client puts in a `<style>` (with its CSP nonce).
 *
 * Colours and fonts are CSS custom properties with zero-specificity defaults on `:root`, so a
 * client maps its own theme onto them anywhere above the panel, e.g. in VS Code
 * `body { --smlt-fg: var(--vscode-foreground); --smlt-bg: var(--vscode-editor-background); … }`
 * or in JupyterLab `--smlt-fg: var(--jp-ui-font-color1)`. Without a mapping the panel is light,
 * or dark when the OS prefers it, and `data-theme="dark"|"light"` on any ancestor (or on the
 * panel) pins one. Held-out accuracy's colour is named once, `--smlt-accuracy` on `.smlt-panel`,
 * from `--smlt-success` (which every host maps to its green), so the inline panel and the report
 * page draw it alike. Layout adapts to the panel's own width (container queries),
 * not the window's: a notebook output cell is narrower than the screen.
 */

const LIGHT = `
  --smlt-fg: #1f2328;
  --smlt-bg: #ffffff;
  --smlt-surface: #f6f8fa;
  --smlt-muted: #59636e;
  --smlt-border: #d1d9e0;
  --smlt-accent: #0969da;
  --smlt-accent-2: #8250df;
  --smlt-on-accent: #ffffff;
  --smlt-success: #1a7f37;
  --smlt-warning: #9a6700;
  --smlt-danger: #cf222e;
  color-scheme: light;`;

const DARK = `
  --smlt-fg: #e6edf3;
  --smlt-bg: #0d1117;
  --smlt-surface: #151b23;
  --smlt-muted: #9198a1;
  --smlt-border: #3d444d;
  --smlt-accent: #4493f8;
  --smlt-accent-2: #b48efa;
  --smlt-on-accent: #0d1117;
  --smlt-success: #3fb950;
  --smlt-warning: #d29922;
  --smlt-danger: #f85149;
  color-scheme: dark;`;

export const PANEL_CSS = `
:where(:root) {${LIGHT}
  --smlt-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --smlt-font-mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  --smlt-font-size: 13px;
  --smlt-radius: 8px;
}
@media (prefers-color-scheme: dark) {
  :where(:root:not([data-theme="light"])) {${DARK}
  }
}
:where([data-theme="light"]) {${LIGHT}
}
:where([data-theme="dark"]) {${DARK}
}

.smlt-panel {
  /* Layout follows the panel's width (a notebook cell, a side bar), not the window's. */
  container: smlt-panel / inline-size;
  box-sizing: border-box;
  width: 100%;
  max-width: 100%;
  min-width: 0;
  display: flex;
  flex-direction: column;
  gap: 16px;
  padding: 16px;
  color: var(--smlt-fg);
  background: var(--smlt-bg);
  border: 1px solid var(--smlt-border);
  border-radius: calc(var(--smlt-radius) + 4px);
  font-family: var(--smlt-font);
  font-size: var(--smlt-font-size);
  line-height: 1.45;
  font-variant-numeric: tabular-nums;
  /* Names and messages come from users: any of them may be one unbroken 300-character word. */
  overflow-wrap: anywhere;
  text-align: start;
}
.smlt-panel *, .smlt-panel *::before, .smlt-panel *::after { box-sizing: border-box; min-width: 0; }
:where(.smlt-panel) :where(h2, h3, p, dl, dd, figure, ol, ul) { margin: 0; padding: 0; }
.smlt-muted { color: var(--smlt-muted); font-size: 12px; }
.smlt-note { margin-top: 6px; }

/* Header: name and facts; status and actions wrap under it when narrow. */
.smlt-header { display: flex; flex-wrap: wrap; align-items: flex-start; justify-content: space-between; gap: 8px 16px; }
.smlt-title { flex: 1 1 220px; display: flex; flex-direction: column; gap: 2px; }
.smlt-name { font-size: 17px; font-weight: 650; line-height: 1.3; letter-spacing: -0.01em; }
.smlt-meta { color: var(--smlt-muted); font-size: 12px; }
.smlt-meta > span + span::before { content: "·"; margin: 0 6px; }
.smlt-header-side { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; }

.smlt-badge {
  --smlt-tone: var(--smlt-accent);
  display: inline-flex; align-items: center; gap: 6px;
  padding: 3px 10px; border-radius: 999px;
  font-size: 12px; font-weight: 600; line-height: 1.3; white-space: nowrap;
  color: var(--smlt-tone);
  background: color-mix(in srgb, var(--smlt-tone) 12%, transparent);
  border: 1px solid color-mix(in srgb, var(--smlt-tone) 35%, transparent);
}
.smlt-badge[data-status="succeeded"] { --smlt-tone: var(--smlt-success); }
.smlt-badge[data-status="failed"] { --smlt-tone: var(--smlt-danger); }
.smlt-badge[data-status="cancelled"], .smlt-badge[data-status="pending"] { --smlt-tone: var(--smlt-muted); }
.smlt-badge[data-status="stopped-budget"] { --smlt-tone: var(--smlt-warning); }
.smlt-dot { display: inline-block; flex: none; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
@media (prefers-reduced-motion: no-preference) {
  .smlt-badge[data-status="running"] .smlt-dot { animation: smlt-pulse 1.6s ease-in-out infinite; }
}
@keyframes smlt-pulse { 50% { opacity: 0.35; } }

.smlt-button {
  font: inherit; font-size: 12px; font-weight: 600; line-height: 1.3;
  padding: 5px 12px; border-radius: 6px; cursor: pointer;
  color: var(--smlt-fg); background: var(--smlt-surface);
  border: 1px solid var(--smlt-border);
}
.smlt-button:hover { border-color: var(--smlt-muted); }
.smlt-button:focus-visible { outline: 2px solid var(--smlt-accent); outline-offset: 2px; }
.smlt-button[data-action="cancel"] { color: var(--smlt-danger); }
.smlt-button[data-action="cancel"]:hover { border-color: var(--smlt-danger); }
.smlt-button-primary { color: var(--smlt-on-accent); background: var(--smlt-accent); border-color: var(--smlt-accent); }
.smlt-button-primary:hover { border-color: var(--smlt-fg); }

/* Progress: label and ETA above a bar with a notch per epoch. */
.smlt-progress { display: flex; flex-direction: column; gap: 6px; }
.smlt-progress-text { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: baseline; gap: 2px 12px; }
.smlt-progress-label strong { font-weight: 600; }
.smlt-eta { color: var(--smlt-muted); font-size: 12px; }
.smlt-bar { display: block; width: 100%; height: 8px; overflow: hidden; }
.smlt-track { fill: color-mix(in srgb, var(--smlt-muted) 18%, transparent); }
.smlt-fill { fill: var(--smlt-accent); }
.smlt-fill-warning { fill: var(--smlt-warning); }
.smlt-fill-danger { fill: var(--smlt-danger); }
.smlt-bar-sep { fill: var(--smlt-bg); }
.smlt-bar-marker { fill: var(--smlt-fg); }
.smlt-panel[data-status="succeeded"] .smlt-progressbar .smlt-fill { fill: var(--smlt-success); }
.smlt-panel[data-status="failed"] .smlt-progressbar .smlt-fill { fill: var(--smlt-danger); }
.smlt-panel[data-status="cancelled"] .smlt-progressbar .smlt-fill { fill: var(--smlt-muted); }

.smlt-alert {
  display: flex; flex-direction: column; gap: 2px;
  padding: 10px 12px; border-radius: var(--smlt-radius);
  border: 1px solid color-mix(in srgb, var(--smlt-danger) 40%, transparent);
  border-left: 4px solid var(--smlt-danger);
  background: color-mix(in srgb, var(--smlt-danger) 8%, transparent);
}
.smlt-alert-code { color: var(--smlt-danger); font-family: var(--smlt-font-mono); font-size: 12px; }
.smlt-alert-warning { border-color: color-mix(in srgb, var(--smlt-warning) 40%, transparent); border-left-color: var(--smlt-warning); background: color-mix(in srgb, var(--smlt-warning) 10%, transparent); }
.smlt-alert-warning .smlt-alert-code { color: var(--smlt-warning); }

/* Key numbers as tiles: loss and accuracy side by side and the rest full width when narrow, 3 + 2 in between, five across when wide. */
.smlt-stats { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
.smlt-stat[data-stat="workers"], .smlt-stat[data-stat="spend"], .smlt-stat[data-stat="elapsed"] { grid-column: span 2; }
@container smlt-panel (min-width: 520px) {
  .smlt-stats { grid-template-columns: repeat(6, minmax(0, 1fr)); }
  .smlt-stat { grid-column: span 2; }
  .smlt-stat[data-stat="spend"], .smlt-stat[data-stat="elapsed"] { grid-column: span 3; }
}
@container smlt-panel (min-width: 800px) {
  .smlt-stats { grid-template-columns: 1fr 1fr 1.2fr 1.35fr 1.35fr; }
  .smlt-stats > .smlt-stat[data-stat] { grid-column: auto; }
}
.smlt-stat {
  display: flex; flex-direction: column; gap: 2px;
  padding: 10px 12px; border-radius: var(--smlt-radius);
  background: var(--smlt-surface); border: 1px solid var(--smlt-border);
}
.smlt-stat dt { color: var(--smlt-muted); font-size: 11px; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase; }
.smlt-value { font-size: 18px; font-weight: 650; line-height: 1.25; letter-spacing: -0.01em; }
.smlt-of { color: var(--smlt-muted); font-size: 12px; font-weight: 500; letter-spacing: 0; }
.smlt-sub { color: var(--smlt-muted); font-size: 12px; }
.smlt-meter { margin: 4px 0 2px; }
.smlt-stat[data-late="true"] .smlt-sub { color: var(--smlt-warning); }

/* Sections: a heading row, then content. */
.smlt-section-head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 2px 12px; margin-bottom: 8px; }
.smlt-h { font-size: 13px; font-weight: 650; }

.smlt-chart { padding: 12px; border: 1px solid var(--smlt-border); border-radius: var(--smlt-radius); }
/*
 * Held-out accuracy's one colour. Declared on the panel, so a host's mapping cannot re-colour it;
 * not --smlt-accent-2, whose hue is each host's own (JupyterLab's accent is green, the default purple).
 */
.smlt-panel { --smlt-accuracy: var(--smlt-success); }
.smlt-legend { display: flex; flex-wrap: wrap; gap: 2px 14px; list-style: none; color: var(--smlt-muted); font-size: 12px; }
.smlt-legend li { display: inline-flex; align-items: center; gap: 6px; }
.smlt-key { display: inline-block; width: 16px; height: 3px; border-radius: 2px; background: var(--smlt-accent); }
.smlt-key-iter { opacity: 0.5; }
.smlt-key-loss { height: 4px; }
.smlt-key-acc { background: var(--smlt-accuracy); height: 4px; }
.smlt-chart-svg { display: block; width: 100%; height: auto; font-family: var(--smlt-font); }
.smlt-chart-svg[data-fit="wide"] { display: none; }
@container smlt-panel (min-width: 520px) {
  .smlt-chart-svg[data-fit="narrow"] { display: none; }
  .smlt-chart-svg[data-fit="wide"] { display: block; }
}
.smlt-grid { stroke: var(--smlt-border); stroke-width: 1; opacity: 0.7; }
.smlt-axis { stroke: var(--smlt-muted); stroke-width: 1; opacity: 0.6; }
.smlt-epoch-line { stroke: var(--smlt-muted); stroke-width: 1; stroke-dasharray: 3 4; opacity: 0.5; }
.smlt-tick { fill: var(--smlt-muted); }
.smlt-tick-acc { fill: var(--smlt-accuracy); }
.smlt-series-iter { fill: none; stroke: var(--smlt-accent); stroke-opacity: 0.5; stroke-width: 1.5; stroke-linejoin: round; }
.smlt-series-loss { fill: none; stroke: var(--smlt-accent); stroke-width: 2.5; stroke-linejoin: round; stroke-linecap: round; }
.smlt-series-acc { fill: none; stroke: var(--smlt-accuracy); stroke-width: 2.5; stroke-linejoin: round; stroke-linecap: round; }
.smlt-dot-loss { fill: var(--smlt-bg); stroke: var(--smlt-accent); stroke-width: 2.5; }
.smlt-dot-acc { fill: var(--smlt-bg); stroke: var(--smlt-accuracy); stroke-width: 2.5; }
.smlt-empty { padding: 20px 12px; text-align: center; color: var(--smlt-muted); font-size: 12px; border: 1px dashed var(--smlt-border); border-radius: var(--smlt-radius); }

.smlt-decision {
  padding: 10px 12px; border-radius: 0 var(--smlt-radius) var(--smlt-radius) 0;
  border-left: 3px solid var(--smlt-accent);
  background: color-mix(in srgb, var(--smlt-accent) 7%, transparent);
}
.smlt-decision .smlt-section-head { margin-bottom: 4px; }
.smlt-decision-config { margin-bottom: 2px; }
.smlt-reason { color: var(--smlt-fg); }

.smlt-table { width: 100%; border-collapse: collapse; font-size: 12px; }
.smlt-table th, .smlt-table td { padding: 6px 8px; text-align: start; vertical-align: middle; border-bottom: 1px solid var(--smlt-border); }
.smlt-table thead th { color: var(--smlt-muted); font-size: 11px; font-weight: 600; letter-spacing: 0.03em; text-transform: uppercase; white-space: nowrap; }
.smlt-table tbody th { font-weight: 600; }
.smlt-table tbody tr:last-child > * { border-bottom: none; }
.smlt-table .smlt-num { text-align: end; }
.smlt-chip {
  --smlt-tone: var(--smlt-muted);
  display: inline-flex; align-items: center; padding: 1px 8px; border-radius: 999px;
  font-size: 11px; font-weight: 600; white-space: nowrap;
  color: var(--smlt-tone); background: color-mix(in srgb, var(--smlt-tone) 13%, transparent);
}
.smlt-chip[data-state="running"] { --smlt-tone: var(--smlt-accent); }
.smlt-chip[data-state="relaunched"] { --smlt-tone: var(--smlt-warning); }
.smlt-chip[data-state="done"] { --smlt-tone: var(--smlt-success); }
.smlt-chip[data-state="failed"] { --smlt-tone: var(--smlt-danger); }

.smlt-log-list { list-style: none; display: flex; flex-direction: column; }
.smlt-log-list li {
  display: grid; grid-template-columns: 8px 3.2em 1fr; align-items: baseline; gap: 10px;
  padding: 5px 0; font-size: 12px; border-bottom: 1px solid color-mix(in srgb, var(--smlt-border) 60%, transparent);
}
.smlt-log-list li:last-child { border-bottom: none; }
.smlt-log-list .smlt-dot { color: var(--smlt-muted); align-self: start; margin-top: 5px; }
.smlt-log-list li[data-level="success"] .smlt-dot { color: var(--smlt-success); }
.smlt-log-list li[data-level="warning"] .smlt-dot { color: var(--smlt-warning); }
.smlt-log-list li[data-level="error"] .smlt-dot { color: var(--smlt-danger); }
.smlt-log-time { color: var(--smlt-muted); font-family: var(--smlt-font-mono); font-size: 11px; }

/* Narrow panels (a side bar, a phone): tighter tables; the memory column repeats the Workers tile. */
@container smlt-panel (max-width: 460px) {
  .smlt-table th, .smlt-table td { padding: 5px 3px; }
  .smlt-table thead th { letter-spacing: 0; text-transform: none; font-size: 11px; }
  .smlt-col-memory { display: none; }
  .smlt-table .smlt-num { text-align: center; }
  .smlt-chart .smlt-section-head { flex-direction: column; align-items: flex-start; }
}
`;
