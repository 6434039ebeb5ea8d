/** A sweep's live panel: the shared sweep renderer over the sweep's session (see live-panel.ts). */
import { SWEEP_CSS, sweepPanelHtml } from '@smlt/shared/sweep/sweep-panel';
import type { SweepSession } from '../sweeps/sweep-session';
import type { PanelContent } from './live-panel';

export const SWEEP_PANEL_VIEW_TYPE = 'smlt.sweepPanel';

export function sweepPanelContent(session: SweepSession): PanelContent {
  return {
    viewType: SWEEP_PANEL_VIEW_TYPE,
    id: session.sweepId,
    css: SWEEP_CSS,
    onDidChange: session.onDidChange,
    render: () => ({
      title: `SMLT sweep: ${session.state.name ?? session.sweepId}`,
      status: session.state.status,
      html: sweepPanelHtml(session.state, { cancelButton: true, reportButton: true }).toString(),
      notice: session.followError ?? '',
    }),
  };
}
