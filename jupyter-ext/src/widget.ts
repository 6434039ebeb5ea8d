/**
 * Widgets: the inline run panel (the shared renderer's HTML inside the notebook panel, under
 * its toolbar) and the report tab (the shared report page in a sandboxed frame).
 */
import { Widget } from '@lumino/widgets';
import { renderPanel } from '../../shared/dist/panel/render.js';
import { renderReportPage } from '../../shared/dist/panel/page.js';
import { PANEL_CSS } from '../../shared/dist/panel/styles.js';
import type { RunReport } from '../../shared/dist/run/outputs.js';
import type { PanelState } from '../../shared/dist/panel/state.js';
import type { RunModel } from './model';

export interface RunPanelActions {
  openReport(model: RunModel): void;
  insertLoadCell(model: RunModel): void;
  /** Runs the load code in the notebook's Python kernel; resolves with what to show (e.g. "Loaded into `model`"). */
  loadIntoKernel(model: RunModel): Promise<string>;
}

/** Puts the shared panel stylesheet in the page once. */
export function ensurePanelStyles(): void {
  if (document.getElementById('smlt-panel-css')) return;
  const style = document.createElement('style');
  style.id = 'smlt-panel-css';
  style.textContent = PANEL_CSS;
  document.head.appendChild(style);
}

export class RunPanelWidget extends Widget {
  private _frame = 0;
  private readonly _content: HTMLElement;
  private readonly _bar: HTMLElement;
  /** The notebook has a Python kernel to load the trained weights into (set by the plugin). */
  private _pythonKernel = false;
  /** What the last "Load into kernel" said, and whether it worked. */
  private _loaded: { text: string; ok: boolean } | undefined;
  /** Only the header and the progress line (the user hid the details). */
  private _collapsed = false;
  /** The height last given to the layout, to ask for a re-fit only when it changes. */
  private _height = 0;

  constructor(
    readonly model: RunModel,
    private readonly actions: RunPanelActions
  ) {
    super();
    this.id = `smlt-run-${model.runId}`;
    this.addClass('jp-smlt-RunPanel');
    this._bar = document.createElement('div');
    this._bar.className = 'jp-smlt-RunPanel-bar';
    this._content = document.createElement('div');
    this._content.className = 'jp-smlt-RunPanel-content';
    this.node.append(this._bar, this._content);
    this.node.addEventListener('click', (event) => void this.onClick(event));
    model.changed.connect(this.scheduleRender, this);
    this.render();
  }

  dispose(): void {
    if (this.isDisposed) return;
    cancelAnimationFrame(this._frame);
    this.model.changed.disconnect(this.scheduleRender, this);
    this.model.dispose();
    super.dispose();
  }

  set pythonKernel(value: boolean) {
    if (value === this._pythonKernel) return;
    this._pythonKernel = value;
    this.scheduleRender();
  }

  protected onResize(): void {
    this.scheduleRender();
  }

  private scheduleRender(): void {
    if (this._frame !== 0) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      if (!this.isDisposed) this.render();
    });
  }

  private render(): void {
    const state = this.model.state;
    const width = Math.max(320, this._content.clientWidth || 720);
    this._content.innerHTML = renderPanel(state, { width, cancelButton: true, reportButton: true, maxLogEntries: 6 });
    const buttons: string[] = [];
    if (state.final?.status === 'succeeded' && state.final.modelPath) {
      if (this._pythonKernel) buttons.push('<button type="button" class="jp-smlt-BarButton jp-mod-accept" data-action="load-into-kernel">Load into kernel</button>');
      buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="insert-load-cell">Insert load cell</button>');
    }
    buttons.push(`<button type="button" class="jp-smlt-BarButton" data-action="toggle" aria-expanded="${!this._collapsed}">${this._collapsed ? 'Show details' : 'Hide details'}</button>`);
    if (state.final) buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="close">Close panel</button>');
    const trouble = this.model.trouble;
    this._bar.innerHTML = '';
    for (const [text, className] of [
      [trouble, 'jp-smlt-Trouble'],
      [this._loaded?.text, this._loaded?.ok ? 'jp-smlt-Loaded' : 'jp-smlt-Trouble']
    ] as const) {
      if (!text) continue;
      const note = document.createElement('span');
      note.className = className;
      note.textContent = text;
      this._bar.appendChild(note);
    }
    this._bar.insertAdjacentHTML('beforeend', buttons.join(''));
    this._bar.hidden = this._bar.childElementCount === 0;
    this.node.classList.toggle('jp-mod-collapsed', this._collapsed);
    this.fitHeight();
  }

  /**
   * The notebook's contentHeader is a Lumino box layout that sizes its children by their CSS
   * min/max height, so the panel says its height: what its content needs, up to 40 % of the
   * window (then it scrolls), and tells the layout when that changed.
   */
  private fitHeight(): void {
    const style = getComputedStyle(this.node);
    const chrome = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) + parseFloat(style.borderBottomWidth);
    const natural = Math.ceil((this._bar.hidden ? 0 : this._bar.offsetHeight) + this._content.scrollHeight + chrome);
    const height = Math.min(natural, Math.max(160, Math.round(window.innerHeight * 0.4)));
    if (height === this._height) return;
    this._height = height;
    this.node.style.minHeight = this.node.style.maxHeight = `${height}px`;
    this.parent?.fit();
  }

  private async onClick(event: MouseEvent): Promise<void> {
    const button = (event.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
    if (!button) return;
    switch (button.dataset.action) {
      case 'cancel':
        button.disabled = true;
        button.textContent = 'Cancelling…';
        try {
          await this.model.cancel();
        } catch (err) {
          button.disabled = false;
          button.textContent = 'Cancel run';
          button.title = (err as Error).message;
        }
        return;
      case 'open-report':
        this.actions.openReport(this.model);
        return;
      case 'load-into-kernel':
        button.disabled = true;
        button.textContent = 'Loading…';
        try {
          this._loaded = { text: await this.actions.loadIntoKernel(this.model), ok: true };
        } catch (err) {
          this._loaded = { text: `Not loaded: ${(err as Error).message}`, ok: false };
        }
        this.render();
        return;
      case 'insert-load-cell':
        this.actions.insertLoadCell(this.model);
        return;
      case 'toggle':
        this._collapsed = !this._collapsed;
        this.render();
        return;
      case 'close':
        this.dispose();
        return;
    }
  }
}

/** The run's report page (the shared one, as `smlt report --html` writes it) in a main-area tab. */
export class ReportWidget extends Widget {
  constructor(state: PanelState, report: RunReport | undefined) {
    super();
    this.addClass('jp-smlt-Report');
    this.id = `smlt-report-${state.runId ?? 'run'}`;
    this.title.label = `Report ${state.name ?? state.runId ?? ''}`.trim();
    this.title.caption = `SMLT run ${state.runId ?? ''}`;
    this.title.closable = true;
    const frame = document.createElement('iframe');
    // No scripts, no same-origin access: the page is static HTML with its own strict CSP.
    frame.setAttribute('sandbox', '');
    frame.title = this.title.label;
    frame.srcdoc = renderReportPage(state, report);
    this.node.appendChild(frame);
  }
}
