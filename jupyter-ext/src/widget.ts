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
      buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="insert-load-cell">Insert load cell</button>');
    }
    if (state.final) buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="close">Close panel</button>');
    const trouble = this.model.trouble;
    this._bar.innerHTML = '';
    if (trouble) {
      const note = document.createElement('span');
      note.className = 'jp-smlt-Trouble';
      note.textContent = trouble;
      this._bar.appendChild(note);
    }
    this._bar.insertAdjacentHTML('beforeend', buttons.join(''));
    this._bar.hidden = this._bar.childElementCount === 0;
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
      case 'insert-load-cell':
        this.actions.insertLoadCell(this.model);
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
