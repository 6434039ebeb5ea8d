/**
 * The progress panel, one implementation for every client: fold a run's events with
 * `reducePanel`, render with `renderPanel` (+ `PANEL_CSS`), or write a shareable page with
 * `renderReportPage`. No DOM here; clients put the HTML where they show it.
 */
export * from './state.js';
export { renderPanel, panelHtml, STATUS_LABELS, type RenderPanelOptions } from './render.js';
export { renderReportPage, REPORT_PAGE_CSP } from './page.js';
export { PANEL_CSS } from './styles.js';
export { describeTrend } from './chart.js';
export { escapeHtml, html, raw, SafeHtml } from './escape.js';
