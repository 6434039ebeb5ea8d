/**
 * The sweep's inline panel (the shared sweep renderer: trials table, best so far, spend and time
 * against the limits, the metric by trial) under the notebook's toolbar, and its report tab.
 */
import { renderSweepReportPage, sweepPanelHtml, type SweepPanelState } from '../../shared/dist/sweep/sweep-panel.js';
import type { SweepModel } from './sweep-model';
import { LivePanelWidget, ReportPageWidget } from './widget';

export interface SweepPanelActions {
  openReport(model: SweepModel): void;
}

export class SweepPanelWidget extends LivePanelWidget<SweepModel> {
  /** Cancel was asked for: the button says so until the sweep's last event ends it. */
  private _cancelling = false;
  /** Why the last cancel failed, shown in the bar. */
  private _cancelError: string | undefined;

  constructor(
    model: SweepModel,
    private readonly actions: SweepPanelActions
  ) {
    super(model, `smlt-sweep-${model.sweepId}`, 'jp-smlt-SweepPanel');
    this.render();
  }

  protected render(): void {
    const state = this.model.state;
    this.content.innerHTML = sweepPanelHtml(state).value;
    const buttons: string[] = [];
    if (state.final) {
      buttons.push('<button type="button" class="jp-smlt-BarButton jp-mod-accept" data-action="open-report">Open report</button>');
    } else {
      buttons.push(
        this._cancelling
          ? '<button type="button" class="jp-smlt-BarButton" data-action="cancel" disabled>Cancelling…</button>'
          : '<button type="button" class="jp-smlt-BarButton" data-action="cancel">Cancel sweep</button>'
      );
    }
    buttons.push(this.toggleButton());
    if (state.final) buttons.push('<button type="button" class="jp-smlt-BarButton" data-action="close">Close panel</button>');
    this.fillBar(
      [
        [this.model.trouble, 'jp-smlt-Trouble'],
        [this._cancelError, 'jp-smlt-Trouble']
      ],
      buttons
    );
  }

  protected async onAction(action: string): Promise<void> {
    switch (action) {
      case 'cancel':
        this._cancelling = true;
        this._cancelError = undefined;
        this.render();
        try {
          // The panel shows "Cancelled" once the sweep's last event arrives; the button goes with it.
          await this.model.cancel();
        } catch (err) {
          this._cancelling = false;
          this._cancelError = `Not cancelled: ${(err as Error).message}`;
          this.render();
        }
        return;
      case 'open-report':
        this.actions.openReport(this.model);
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

/** The sweep's report page (its leaderboard, as `smlt report --html` writes it) in a main-area tab. */
export class SweepReportWidget extends ReportPageWidget {
  constructor(state: SweepPanelState) {
    super({
      id: `smlt-sweep-report-${state.sweepId ?? 'sweep'}`,
      label: `Sweep report ${state.name ?? state.sweepId ?? ''}`.trim(),
      caption: `SMLT sweep ${state.sweepId ?? ''}`,
      page: renderSweepReportPage(state)
    });
  }
}
