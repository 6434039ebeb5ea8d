/** A run's live panel: the shared run renderer over the run's session (see live-panel.ts). */
import { renderPanel } from '@smlt/shared/panel/render';
import type { RunSession } from '../runs/run-session';
import type { PanelContent } from './live-panel';

export const RUN_PANEL_VIEW_TYPE = 'smlt.runPanel';

export function runPanelContent(session: RunSession): PanelContent {
  return {
    viewType: RUN_PANEL_VIEW_TYPE,
    id: session.runId,
    onDidChange: session.onDidChange,
    render: (width) => ({
      title: `SMLT: ${session.state.name ?? session.runId}`,
      status: session.state.status,
      html: renderPanel(session.state, { width, cancelButton: true, reportButton: true }),
      notice: session.followError ?? '',
    }),
  };
}
