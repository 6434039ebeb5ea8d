/**
 * The SMLT plugin: a "Train on serverless" notebook toolbar button (declared in
 * schema/plugin.json) and palette / context-menu commands that capture the notebook, ask for
 * the objective, deadline, budget and backend, start the run through the server extension and
 * show its progress panel inside the notebook. A notebook that is opened (or a page that is
 * reloaded) while one of its runs is going re-attaches to it. Design sweeps: sweep.ts.
 */
import { type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import { loadCellSource as sharedLoadCell } from '../../shared/dist/run/load-cell.js';
import type { RunReport } from '../../shared/dist/run/outputs.js';
import { CaptureError, notebookPayload } from './capture';
import { TrainDialog, TrainForm, runRequestBody } from './dialog';
import { RunModel } from './model';
import { KernelCodeError, declaredLanguage, kernelLanguage, runInKernel } from './kernel';
import { yamlCellsToRaw } from './yaml-cells';
import { ApiError, postJSON, requestAPI } from './request';
import { activateSweeps } from './sweep';
import { CommandIds, PLUGIN_ID, type RunArtifacts, type RunSummary, type ServerConfig, type TrainSettings } from './tokens';
import { ReportWidget, RunPanelWidget, ensurePanelStyles } from './widget';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Train the notebook model on serverless workers, with an inline progress panel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    ensurePanelStyles();
    const panels = new Map<NotebookPanel, RunPanelWidget>();
    let lastSettings: Partial<TrainSettings> = {};

    const show = (notebook: NotebookPanel, model: RunModel): RunPanelWidget => {
      panels.get(notebook)?.dispose();
      const widget = new RunPanelWidget(model, {
        openReport: (m) => void openReport(m),
        insertLoadCell: (m) => void insertLoadCell(notebook, m),
        loadIntoKernel: (m) => loadIntoKernel(notebook, m)
      });
      // "Load into kernel" is offered while the notebook has a Python kernel.
      const checkKernel = async () => {
        widget.pythonKernel = (await kernelLanguage(notebook)) === 'python';
      };
      void checkKernel();
      notebook.sessionContext.kernelChanged.connect(() => void checkKernel(), widget);
      widget.disposed.connect(() => {
        if (panels.get(notebook) === widget) panels.delete(notebook);
      });
      panels.set(notebook, widget);
      // contentHeader sits between the notebook toolbar and its cells.
      notebook.contentHeader.addWidget(widget);
      void model.follow();
      return widget;
    };

    const train = async (notebook: NotebookPanel): Promise<void> => {
      await notebook.context.ready;
      let payload;
      let config: ServerConfig;
      try {
        [payload, config] = await Promise.all([notebookPayload(notebook), requestAPI<ServerConfig>('config')]);
      } catch (err) {
        const title = err instanceof CaptureError ? 'Cannot capture the notebook' : 'SMLT is not available';
        await showErrorMessage(title, (err as Error).message);
        return;
      }
      const form = new TrainForm(payload, config, lastSettings);
      const dialog = new TrainDialog(form, async (settings) => {
        lastSettings = settings;
        const started = await postJSON<{ runId: string }>('runs', runRequestBody(payload, settings));
        const limits = {
          ...(settings.budgetUsd !== undefined ? { budgetUsd: settings.budgetUsd } : {}),
          ...(settings.deadlineMin !== undefined ? { deadlineS: settings.deadlineMin * 60 } : {})
        };
        show(notebook, new RunModel(started.runId, limits));
      });
      await dialog.launch();
    };

    const openReport = async (model: RunModel): Promise<void> => {
      let report: RunReport | undefined;
      try {
        report = await requestAPI<RunReport>(`runs/${encodeURIComponent(model.runId)}/report`);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) {
          await showErrorMessage('Cannot open the report', (err as Error).message);
          return;
        }
      }
      const id = `smlt-report-${model.runId}`;
      for (const w of app.shell.widgets('main')) if (w.id === id) w.dispose();
      const content = new ReportWidget(model.state, report);
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = content.title.label;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };

    /** The run's saved model; throws, saying why, when it has none. */
    const trainedModel = async (model: RunModel): Promise<RunArtifacts & { modelPath: string }> => {
      const artifacts = await requestAPI<RunArtifacts>(`runs/${encodeURIComponent(model.runId)}/artifacts`);
      if (!artifacts.modelPath) throw new Error(`Run ${model.runId} has no saved model.`);
      return artifacts as RunArtifacts & { modelPath: string };
    };

    const insertLoadCell = async (notebook: NotebookPanel, model: RunModel): Promise<void> => {
      let artifacts;
      try {
        artifacts = await trainedModel(model);
      } catch (err) {
        await showErrorMessage('Cannot find the trained model', (err as Error).message);
        return;
      }
      const language = (await kernelLanguage(notebook)) ?? declaredLanguage(notebook) ?? '';
      const content = notebook.content;
      content.activeCellIndex = content.widgets.length - 1;
      NotebookActions.insertBelow(content);
      content.activeCell!.model.sharedModel.setSource(loadCellSource(language, artifacts.modelPath, model.runId, artifacts.modelVariable));
    };

    /** The load cell's code, run in the notebook's kernel without adding a cell: the weights go into its Keras model. */
    const loadIntoKernel = async (notebook: NotebookPanel, model: RunModel): Promise<string> => {
      const kernel = notebook.sessionContext.session?.kernel;
      if (!kernel) throw new Error('the notebook has no kernel; start its kernel and run its cells up to model.compile.');
      const artifacts = await trainedModel(model);
      const variable = artifacts.modelVariable ?? 'model';
      try {
        await runInKernel(kernel, loadCellSource('python', artifacts.modelPath, model.runId, variable));
      } catch (err) {
        if (!(err instanceof KernelCodeError)) throw err;
        const hint = /NameError/.test(err.message) ? ` Run the notebook's cells that build \`${variable}\` first.` : '';
        throw new Error(`${err.message}.${hint}`);
      }
      return `Loaded into \`${variable}\` in the kernel`;
    };

    /** Re-attach to this notebook's run that is still going (after a reload, or on reopening). */
    const reattach = async (notebook: NotebookPanel): Promise<void> => {
      await notebook.context.ready;
      if (panels.has(notebook) || notebook.isDisposed) return;
      let runs: RunSummary[];
      try {
        runs = await requestAPI<RunSummary[]>(`runs?contentsPath=${encodeURIComponent(notebook.context.path)}`);
      } catch (err) {
        console.warn(`SMLT: cannot list runs: ${(err as Error).message}`);
        return;
      }
      // A sweep's trial runs show in the sweep's panel (sweep.ts), not as the notebook's run.
      const running = runs.find((r) => r.status === 'running' && !r.sweepId);
      if (running && !panels.has(notebook) && !notebook.isDisposed) show(notebook, new RunModel(running.runId, { name: running.name }));
    };

    tracker.widgetAdded.connect((_, notebook) => {
      void reattach(notebook);
      // Once its kernel is known (or declined): SMLT's YAML cells must not break a Python Run All.
      void notebook.sessionContext.ready.then(() => yamlCellsToRaw(notebook));
      notebook.disposed.connect(() => panels.get(notebook)?.dispose());
    });

    app.commands.addCommand(CommandIds.train, {
      label: 'Train on serverless',
      caption: 'Train the tagged model of this notebook on serverless workers',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => (tracker.currentWidget ? train(tracker.currentWidget) : undefined)
    });
    app.commands.addCommand(CommandIds.openReport, {
      label: 'SMLT: Open report of the last run',
      isEnabled: () => tracker.currentWidget !== null && panels.get(tracker.currentWidget)?.model.isFinished === true,
      execute: () => {
        const widget = tracker.currentWidget && panels.get(tracker.currentWidget);
        return widget ? openReport(widget.model) : undefined;
      }
    });
    app.commands.addCommand(CommandIds.insertLoadCell, {
      label: 'SMLT: Insert cell that loads the trained model',
      isEnabled: () => {
        const widget = tracker.currentWidget && panels.get(tracker.currentWidget);
        return !!widget && widget.model.state.final?.status === 'succeeded';
      },
      execute: () => {
        const notebook = tracker.currentWidget;
        const widget = notebook && panels.get(notebook);
        return notebook && widget ? insertLoadCell(notebook, widget.model) : undefined;
      }
    });
    activateSweeps(app, tracker);
    if (palette) {
      for (const command of Object.values(CommandIds)) palette.addItem({ command, category: 'SMLT' });
    }
  }
};

/**
 * A cell that uses the trained model in the notebook's own language: with Python, the run's
 * weights into the kernel's Keras model (the shared text, `run/load-cell.ts`); with a tfjs kernel,
 * the tfjs layers model.
 */
export function loadCellSource(language: string, modelPath: string, runId: string, modelVariable?: string): string {
  if (language.toLowerCase() === 'python') {
    const modelDir = modelPath.replace(/\/model\.json$/, '');
    return sharedLoadCell({ language, modelDir, runId, ...(modelVariable ? { modelVariable } : {}) });
  }
  return [
    `// The model trained by SMLT run ${runId}`,
    "import * as tf from '@tensorflow/tfjs-node';",
    `const model = await tf.loadLayersModel(${JSON.stringify(`file://${modelPath}`)});`,
    'model.summary();'
  ].join('\n');
}

export default plugin;
