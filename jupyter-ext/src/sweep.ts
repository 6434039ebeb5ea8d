/**
 * Design sweeps in the notebook: the "Sweep on serverless" command (toolbar button declared in
 * schema/plugin.json, palette, context menu) saves the notebook (a sweep reads the file), asks
 * for the deadline, budget and backend with the sweep's forecast, starts it through the server
 * extension and shows its panel under the notebook's toolbar. A notebook opened (or a page
 * reloaded) while one of its sweeps runs shows that sweep's panel again.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { postJSON, requestAPI } from './request';
import { SweepDialog, SweepForm, sweepRequestBody } from './sweep-dialog';
import { SweepModel } from './sweep-model';
import { SweepPanelWidget, SweepReportWidget } from './sweep-widget';
import { CommandIds, type ServerConfig, type SweepSettings, type SweepSummary } from './tokens';

export function activateSweeps(app: JupyterFrontEnd, tracker: INotebookTracker): void {
  const panels = new Map<NotebookPanel, SweepPanelWidget>();
  let lastSettings: Partial<SweepSettings> = {};

  const show = (notebook: NotebookPanel, model: SweepModel): SweepPanelWidget => {
    panels.get(notebook)?.dispose();
    const widget = new SweepPanelWidget(model, { openReport: (m) => openReport(m) });
    widget.disposed.connect(() => {
      if (panels.get(notebook) === widget) panels.delete(notebook);
    });
    panels.set(notebook, widget);
    notebook.contentHeader.addWidget(widget);
    void model.follow();
    return widget;
  };

  const sweep = async (notebook: NotebookPanel): Promise<void> => {
    await notebook.context.ready;
    let config: ServerConfig;
    try {
      // The sweep reads the notebook from disk: what it trains is what the editor shows.
      await notebook.context.save();
    } catch (err) {
      await showErrorMessage('Cannot save the notebook', `A sweep reads the saved notebook: ${(err as Error).message}`);
      return;
    }
    try {
      config = await requestAPI<ServerConfig>('config');
    } catch (err) {
      await showErrorMessage('SMLT is not available', (err as Error).message);
      return;
    }
    const contentsPath = notebook.context.path;
    const form = new SweepForm(contentsPath, config, lastSettings);
    const dialog = new SweepDialog(form, async (settings) => {
      lastSettings = settings;
      const started = await postJSON<{ sweepId: string }>('sweeps', sweepRequestBody(contentsPath, settings));
      show(notebook, new SweepModel(started.sweepId));
    });
    await dialog.launch();
  };

  const openReport = (model: SweepModel): void => {
    const content = new SweepReportWidget(model.state);
    for (const w of app.shell.widgets('main')) if (w.id === content.id) w.dispose();
    const widget = new MainAreaWidget({ content });
    widget.id = content.id;
    widget.title.label = content.title.label;
    widget.title.closable = true;
    app.shell.add(widget, 'main');
    app.shell.activateById(widget.id);
  };

  /** Shows this notebook's sweep that is still running (after a reload, or on reopening). */
  const reattach = async (notebook: NotebookPanel): Promise<void> => {
    await notebook.context.ready;
    if (panels.has(notebook) || notebook.isDisposed) return;
    let sweeps: SweepSummary[];
    try {
      sweeps = await requestAPI<SweepSummary[]>(`sweeps?contentsPath=${encodeURIComponent(notebook.context.path)}`);
    } catch (err) {
      console.warn(`SMLT: cannot list sweeps: ${(err as Error).message}`);
      return;
    }
    const running = sweeps.find((s) => s.status === 'running');
    if (running && !panels.has(notebook) && !notebook.isDisposed) show(notebook, new SweepModel(running.sweepId, { name: running.name }));
  };

  tracker.widgetAdded.connect((_, notebook) => {
    void reattach(notebook);
    notebook.disposed.connect(() => panels.get(notebook)?.dispose());
  });

  app.commands.addCommand(CommandIds.sweep, {
    label: 'Sweep on serverless',
    caption: "Search this notebook's hyper-parameters under one budget and deadline (its smlt:sweep cell)",
    isEnabled: () => tracker.currentWidget !== null,
    execute: () => (tracker.currentWidget ? sweep(tracker.currentWidget) : undefined)
  });
}
