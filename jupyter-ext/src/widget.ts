/**
 * Widgets: the inline run panel (the shared renderer's HTML inside the notebook panel, under
 * its toolbar) and the report tab (the shared report page in a sandboxed frame). `LivePanelWidget`
 * and `ReportPageWidget` are what the sweep's panel and report (sweep-widget.ts) share.
 */
import { Widget } from '@lumino/widgets';
import { renderPanel } from '../../shared/dist/panel/render.js';
import { renderReportPage } from '../../shared/dist/panel/page.js';
import { PANEL_CSS } from '../../shared/dist/panel/styles.js';
import type { RunReport } from '../../shared/dist/run/outputs.js';
import type { PanelState } from '../../shared/dist/panel/state.js';
import { SWEEP_CSS } from '../../shared/dist/sweep/sweep-panel.js';
import type { FollowedModel, RunModel } from './model';

export interface RunPanelActions {
  openReport(model: RunModel): void;
  insertLoadCell(model: RunModel): void;
  /** Runs the load code in the notebook's Python kernel; resolves with what to show (e.g. "Loaded into `model`"). */
  loadIntoKernel(model: RunModel): Promise<string>;
}

/** Puts the shared panel stylesheets (the run's and the sweep's) in the page once. */
export function ensurePanelStyles(): void {
  if (document.getElementById('smlt-panel-css')) return;
  const style = document.createElement('style');
  style.id = 'smlt-panel-css';
  style.textContent = PANEL_CSS + SWEEP_CSS;
  document.head.appendChild(style);
}

/**
 * A panel in the notebook's contentHeader fed by a followed model: a bar (notes and buttons)
 * over the shared renderer's HTML, rendered at most once a frame however fast events come, and
 * as tall as its content needs. Subclasses render and handle their buttons' `data-action`.
 */
export abstract class LivePanelWidget<M extends FollowedModel<unknown, { seq: number }>> extends Widget {
  private _frame = 0;
  protected readonly content: HTMLElement;
  protected readonly bar: HTMLElement;
  /** Only the header and the progress line (the user hid the details). */
  protected collapsed = false;
  /** The height last given to the layout, to ask for a re-fit only when it changes. */
  private _height = 0;

  protected constructor(
    readonly model: M,
    id: string,
    className: string
  ) {
    super();
    this.id = id;
    this.addClass(className);
    this.bar = document.createElement('div');
    this.bar.className = 'jp-smlt-RunPanel-bar';
    this.content = document.createElement('div');
    this.content.className = 'jp-smlt-RunPanel-content';
    this.node.append(this.bar, this.content);
    this.node.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest('button[data-action]') as HTMLButtonElement | null;
      if (button) void this.onAction(button.dataset.action ?? '', button);
    });
    model.changed.connect(this.scheduleRender, this);
  }

  dispose(): void {
    if (this.isDisposed) return;
    cancelAnimationFrame(this._frame);
    this.model.changed.disconnect(this.scheduleRender, this);
    this.model.dispose();
    super.dispose();
  }

  /** Renders the content, the bar and the height from the model's state now. */
  protected abstract render(): void;

  protected abstract onAction(action: string, button: HTMLButtonElement): Promise<void>;

  protected onResize(): void {
    this.scheduleRender();
  }

  protected scheduleRender(): void {
    if (this._frame !== 0) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      if (!this.isDisposed) this.render();
    });
  }

  /** The bar: its notes (text, class; empty ones left out), then its buttons' markup. */
  protected fillBar(notes: ReadonlyArray<readonly [string | undefined, string]>, buttons: string[]): void {
    this.bar.innerHTML = '';
    for (const [text, className] of notes) {
      if (!text) continue;
      const note = document.createElement('span');
      note.className = className;
      note.textContent = text;
      this.bar.appendChild(note);
    }
    this.bar.insertAdjacentHTML('beforeend', buttons.join(''));
    this.bar.hidden = this.bar.childElementCount === 0;
    this.node.classList.toggle('jp-mod-collapsed', this.collapsed);
    this.fitHeight();
  }

  protected toggleButton(): string {
    return `<button type="button" class="jp-smlt-BarButton" data-action="toggle" aria-expanded="${!this.collapsed}">${this.collapsed ? 'Show details' : 'Hide details'}</button>`;
  }

  /**
   * The notebook's contentHeader is a Lumino box layout that sizes its children by their CSS
   * min/max height, so the panel says its height: what its content needs, up to 40 % of the
   * window (then it scrolls), and tells the layout when that changed.
   */
  private fitHeight(): void {
    const style = getComputedStyle(this.node);
    const chrome = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) + parseFloat(style.borderBottomWidth);
    const natural = Math.ceil((this.bar.hidden ? 0 : this.bar.offsetHeight) + this.content.scrollHeight + chrome);
    const height = Math.min(natural, Math.max(160, Math.round(window.innerHeight * 0.4)));
    if (height === this._height) return;
    this._height = height;
    this.node.style.minHeight = this.node.style.maxHeight = `${height}px`;
    this.parent?.fit();
  }
}

export class RunPanelWidget extends LivePanelWidget<RunModel> {
  /** The notebook has a Python kernel to load the trained weights into (set by the plugin). */
  private _pythonKernel = false;
  /** What the last "Load into kernel" said, and whether it worked. */
  private _loaded: { text: string; ok: boolean } | undefined;

  constructor(
    model: RunModel,
    private readonly actions: RunPanelActions
  ) {
    super(model, `smlt-run-${model.runId}`, 'jp-smlt-RunPanel');
    this.render();
  }

  set pythonKernel(value: boolean) {
    if (value === this._pythonKernel) return;
    this._pythonKernel = value;
    this.scheduleRender();
  }

  protected render(): void {
    const state = this.model.state;
    const width = Math.max(320, this.content.clientWidth || 720);
    this.content.innerHTML = renderPanel(state, { width, cancelButton: true, reportButton: true, maxLogEntries: 6 });
    const buttons: string[] = [];
    if (state.final?.status === 'succeeded' && state.final.modelPath) {
      if (this._pythonKernel) buttons.push('<button type="button" class="jp-smlt-BarButton jp-mod-accept" data-action="load-into-kernel">Load into kernel</button>');
      buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="insert-load-cell">Insert load cell</button>');
    }
    buttons.push(this.toggleButton());
    if (state.final) buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="close">Close panel</button>');
    this.fillBar(
      [
        [this.model.trouble, 'jp-smlt-Trouble'],
        [this._loaded?.text, this._loaded?.ok ? 'jp-smlt-Loaded' : 'jp-smlt-Trouble']
      ],
      buttons
    );
  }

  protected async onAction(action: string, button: HTMLButtonElement): Promise<void> {
    switch (action) {
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
        this.collapsed = !this.collapsed;
        this.render();
        return;
      case 'close':
        this.dispose();
        return;
    }
  }
}

/** A self-contained report page (the shared ones, as `smlt report --html` writes them) for a main-area tab. */
export class ReportPageWidget extends Widget {
  constructor(options: { id: string; label: string; caption: string; page: string }) {
    super();
    this.addClass('jp-smlt-Report');
    this.id = options.id;
    this.title.label = options.label;
    this.title.caption = options.caption;
    this.title.closable = true;
    const frame = document.createElement('iframe');
    // No scripts, no same-origin access: the page is static HTML with its own strict CSP.
    frame.setAttribute('sandbox', '');
    frame.title = this.title.label;
    frame.srcdoc = options.page;
    this.node.appendChild(frame);
  }
}

/** The run's report page in a main-area tab. */
export class ReportWidget extends ReportPageWidget {
  constructor(state: PanelState, report: RunReport | undefined) {
    super({
      id: `smlt-report-${state.runId ?? 'run'}`,
      label: `Report ${state.name ?? state.runId ?? ''}`.trim(),
      caption: `SMLT run ${state.runId ?? ''}`,
      page: renderReportPage(state, report)
    });
  }
}
