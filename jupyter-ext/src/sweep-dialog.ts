/**
 * The "Sweep on serverless" dialog: the sweep's deadline, budget and backend, and its forecast
 * from smlt serve (trials, rungs, expected and pessimistic time and cost, trials at once), asked
 * again after each edit. When the limits cannot hold, the forecast's advice names the fix and
 * Start is refused. The fields, the debounce and the errors are the train dialog's (dialog.ts).
 */
import { costOn, formatDuration, formatUsd } from '../../shared/dist/panel/format.js';
import { FORM_ERROR_HTML, type FieldErrors, LIMIT_FIELDS_HTML, LaunchDialog, LimitsForm, plural } from './dialog';
import { postJSON } from './request';
import type { ServerConfig, SweepEstimate, SweepRequestBody, SweepSettings } from './tokens';

export class SweepForm extends LimitsForm<SweepSettings, SweepEstimate> {
  constructor(
    private readonly contentsPath: string,
    config: ServerConfig,
    initial: Partial<SweepSettings> = {}
  ) {
    super(config, ['deadline', 'budget', 'backend'], LIMIT_FIELDS_HTML + FORM_ERROR_HTML, initial);
    this.addClass('jp-smlt-SweepForm');
    this.listen();
  }

  protected readSettings(errors: FieldErrors): SweepSettings {
    return this.readLimits(errors);
  }

  protected requestEstimate(settings: SweepSettings): Promise<SweepEstimate> {
    return postJSON<SweepEstimate>('sweeps/estimate', sweepRequestBody(this.contentsPath, settings));
  }

  /** E.g. "4 trials, rungs of 1, 3 epochs: ≈ 34 s (up to 50 s), $0.021 (up to $0.03) as if on AWS Lambda; 2 trials at once." */
  protected presentEstimate(estimate: SweepEstimate, settings: SweepSettings): { text: string; feasible: boolean } {
    const { forecast } = estimate;
    const shape = `${plural(estimate.trials, 'trial')}, rungs of ${estimate.rungs.join(', ')} epochs`;
    const time = `≈ ${formatDuration(forecast.timeS.expected)} (up to ${formatDuration(forecast.timeS.high)})`;
    const cost = `${formatUsd(forecast.costUsd.expected)} (up to ${formatUsd(forecast.costUsd.high)})`;
    if (!forecast.feasible) {
      return { text: `Cannot hold these limits: ${shape}, ${time}, ${cost}. ${forecast.advice ?? 'Relax the deadline or the budget.'}`, feasible: false };
    }
    const where = settings.backend === 'aws' ? 'aws-lambda' : 'local';
    const atOnce = forecast.concurrency === 1 ? 'one trial at a time' : `${forecast.concurrency} trials at once`;
    return { text: `${shape}: ${time}, ${costOn(cost, where)}; ${atOnce}.`, feasible: true };
  }
}

export class SweepDialog extends LaunchDialog<SweepSettings> {
  constructor(form: SweepForm, start: (settings: SweepSettings) => Promise<void>) {
    super(form, start, { title: 'Sweep on serverless', accept: 'Start sweep', className: 'jp-smlt-SweepDialog', focus: 'input[name="deadline"]' });
  }
}

export function sweepRequestBody(contentsPath: string, settings: SweepSettings): SweepRequestBody {
  return {
    contentsPath,
    backend: settings.backend,
    ...(settings.deadlineMin !== undefined ? { deadlineS: Math.round(settings.deadlineMin * 60) } : {}),
    ...(settings.budgetUsd !== undefined ? { budgetUsd: settings.budgetUsd } : {})
  };
}
