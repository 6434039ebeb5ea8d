/**
 * The "Train on serverless" dialog: objective, deadline, budget and backend, a live estimate
 * from the planner (refreshed as the values change) and, when the limits cannot be met, the
 * planner's explanation with its fix. Bad values are shown beside their field and keep the
 * dialog open; nothing launches until the form is valid.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { costOn, formatDuration, formatUsd } from '../../shared/dist/panel/format.js';
import { ApiError, postJSON } from './request';
import type { Estimate, NotebookPayload, ServerConfig, TrainSettings } from './tokens';

type FieldName = 'objective' | 'deadline' | 'budget' | 'backend';

/** Server-side field names (of the run request) mapped to the dialog's fields. */
const FIELD_OF_REQUEST: Record<string, FieldName> = {
  objective: 'objective',
  deadlineS: 'deadline',
  budgetUsd: 'budget'
};

const MAX_DEADLINE_MIN = 7 * 24 * 60;

export class TrainForm extends Widget implements Dialog.IBodyWidget<TrainSettings> {
  private _estimateSeq = 0;
  private _timer: number | undefined;
  /** The estimate for the values now in the form (undefined while one is pending or failed). */
  private _estimate: Estimate | undefined;
  /** The values the current (or pending) estimate is for: a blur's `change` event is not a change. */
  private _estimatedKey: string | undefined;

  constructor(
    private readonly payload: NotebookPayload,
    private readonly config: ServerConfig,
    initial: Partial<TrainSettings> = {}
  ) {
    super();
    this.addClass('jp-smlt-TrainForm');
    this.node.innerHTML = FORM_HTML;
    const backend = this.input('backend') as HTMLSelectElement;
    for (const b of config.backends) {
      const option = document.createElement('option');
      option.value = b.name;
      option.textContent = b.available ? b.label : `${b.label} (${b.note ?? 'not available'})`;
      option.disabled = !b.available;
      backend.appendChild(option);
    }
    if (initial.objective) (this.input('objective') as HTMLSelectElement).value = initial.objective;
    if (initial.deadlineMin !== undefined) this.input('deadline').value = String(initial.deadlineMin);
    if (initial.budgetUsd !== undefined) this.input('budget').value = String(initial.budgetUsd);
    backend.value = initial.backend ?? config.backends.find((b) => b.available)?.name ?? '';
    this.node.addEventListener('input', () => this.changed());
    this.node.addEventListener('change', () => this.changed());
    this.changed(0);
  }

  /** The values as typed; `validate()` says whether they may be sent. */
  getValue(): TrainSettings {
    const { settings } = this.read();
    return settings;
  }

  /** Shows every problem beside its field; true when the form may launch a run. */
  validate(): boolean {
    const { errors } = this.read();
    for (const name of ['objective', 'deadline', 'budget', 'backend'] as FieldName[]) this.showFieldError(name, errors[name]);
    if (Object.keys(errors).length > 0) {
      this.input(Object.keys(errors)[0] as FieldName).focus();
      return false;
    }
    if (this._estimate && !this._estimate.feasible) {
      this.showGeneral('Not started: change the deadline or the budget as the estimate above says.');
      return false;
    }
    return true;
  }

  /** A failure of the start request: beside its field when it names one, else under the form. */
  showError(err: unknown): void {
    if (err instanceof ApiError && err.field && FIELD_OF_REQUEST[err.field]) {
      this.showFieldError(FIELD_OF_REQUEST[err.field]!, err.message);
    } else {
      this.showGeneral(err instanceof Error ? err.message : String(err));
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this._estimateSeq++;
    super.dispose();
  }

  private input(name: FieldName): HTMLInputElement | HTMLSelectElement {
    return this.node.querySelector(`[name="${name}"]`) as HTMLInputElement;
  }

  private read(): { settings: TrainSettings; errors: Partial<Record<FieldName, string>> } {
    const errors: Partial<Record<FieldName, string>> = {};
    const objective = this.input('objective').value;
    if (objective !== 'time' && objective !== 'cost') errors.objective = 'Choose time or cost.';
    const number = (name: 'deadline' | 'budget', what: string, max: number, unit: string): number | undefined => {
      const text = this.input(name).value.trim();
      if (text === '') return undefined;
      const value = Number(text);
      if (!Number.isFinite(value) || value <= 0) {
        errors[name] = `${what} must be a positive number of ${unit}, or empty for none.`;
      } else if (value > max) {
        errors[name] = `${what} must be at most ${max} ${unit}.`;
      }
      return value;
    };
    const deadlineMin = number('deadline', 'The deadline', MAX_DEADLINE_MIN, 'minutes');
    const budgetUsd = number('budget', 'The budget', 10_000, 'US dollars');
    const backend = this.input('backend').value;
    const known = this.config.backends.find((b) => b.name === backend);
    if (!known || !known.available) errors.backend = known?.note ?? 'Choose a backend.';
    const settings: TrainSettings = { objective: objective === 'cost' ? 'cost' : 'time', backend };
    if (deadlineMin !== undefined && errors.deadline === undefined) settings.deadlineMin = deadlineMin;
    if (budgetUsd !== undefined && errors.budget === undefined) settings.budgetUsd = budgetUsd;
    return { settings, errors };
  }

  private changed(delayMs = 600): void {
    const { settings, errors } = this.read();
    for (const name of ['objective', 'deadline', 'budget', 'backend'] as FieldName[]) this.showFieldError(name, errors[name]);
    const key = JSON.stringify([settings, errors]);
    if (key === this._estimatedKey) return;
    this._estimatedKey = key;
    this.showGeneral(undefined);
    this._estimate = undefined;
    window.clearTimeout(this._timer);
    const seq = ++this._estimateSeq;
    if (Object.keys(errors).length > 0) {
      this.showEstimate('Fix the values above to see an estimate.', 'idle');
      return;
    }
    this.showEstimate('Estimating…', 'pending');
    this._timer = window.setTimeout(() => void this.estimate(seq), delayMs);
  }

  private async estimate(seq: number): Promise<void> {
    const settings = this.getValue();
    try {
      const estimate = await postJSON<Estimate>('estimate', runRequestBody(this.payload, settings));
      if (seq !== this._estimateSeq || this.isDisposed) return;
      this._estimate = estimate;
      this.showFound(estimate.found);
      const time = `${formatDuration(estimate.timeS.expected)} (${formatDuration(estimate.timeS.low)} to ${formatDuration(estimate.timeS.high)})`;
      const cost = `${formatUsd(estimate.costUsd.expected)} (up to ${formatUsd(estimate.costUsd.high)})`;
      const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
      const shape =
        `${plural(estimate.workers, 'worker')} × ${estimate.memoryMb} MB${estimate.backend ? ` on ${estimate.backend.name}` : ''}, ` +
        `${plural(estimate.epochs, 'epoch')} of ${plural(estimate.iterationsPerEpoch, 'iteration')}`;
      if (estimate.feasible) {
        this.showEstimate(`Estimate: ${time}, ${costOn(cost, estimate.platform)}; ${shape}.`, 'ok');
      } else {
        this.showEstimate(
          `Cannot meet these limits: about ${time} and ${cost}. ${estimate.advice ?? 'Relax the deadline or the budget.'}`,
          'infeasible'
        );
      }
    } catch (err) {
      if (seq !== this._estimateSeq || this.isDisposed) return;
      this.showEstimate('No estimate.', 'idle');
      this.showError(err);
    }
  }

  private showFieldError(name: FieldName, message: string | undefined): void {
    const slot = this.node.querySelector(`[data-error-for="${name}"]`) as HTMLElement;
    slot.textContent = message ?? '';
    this.input(name).setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  private showGeneral(message: string | undefined): void {
    const slot = this.node.querySelector('.jp-smlt-FormError') as HTMLElement;
    slot.textContent = message ?? '';
    slot.hidden = !message;
  }

  /** What capture found (a Keras notebook's model, data and settings), so the user can check it. */
  private showFound(found: Estimate['found']): void {
    const block = this.node.querySelector('.jp-smlt-Found') as HTMLElement;
    block.hidden = !found;
    (block.querySelector('.jp-smlt-FoundSummary') as HTMLElement).textContent = found ? `Found: ${found.summary}` : '';
    const list = block.querySelector('.jp-smlt-FoundWarnings') as HTMLElement;
    list.replaceChildren(
      ...(found?.warnings ?? []).map((warning) => {
        const item = document.createElement('li');
        item.textContent = warning;
        return item;
      })
    );
  }

  private showEstimate(text: string, kind: 'idle' | 'pending' | 'ok' | 'infeasible'): void {
    const slot = this.node.querySelector('.jp-smlt-Estimate') as HTMLElement;
    slot.textContent = text;
    slot.dataset.kind = kind;
  }
}

/**
 * The dialog that stays open while the form is invalid and while the run starts: Train checks the
 * form, then awaits `start`; a start that fails shows its error in the form and leaves the dialog
 * open and working (Cancel, Escape, Train again), and only a start that succeeds closes it.
 */
export class TrainDialog extends Dialog<TrainSettings> {
  private _starting = false;

  constructor(
    private readonly form: TrainForm,
    private readonly start: (settings: TrainSettings) => Promise<void>
  ) {
    super({
      title: 'Train on serverless',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Train' })],
      focusNodeSelector: 'select[name="objective"]'
    });
    this.addClass('jp-smlt-TrainDialog');
  }

  resolve(index?: number): void {
    const accept = (index ?? 1) === 1;
    if (!accept) return super.resolve(index);
    if (this._starting || !this.form.validate()) return;
    this.setStarting(true);
    this.start(this.form.getValue()).then(
      () => {
        if (!this.isDisposed) super.resolve(index);
      },
      (err: unknown) => {
        if (this.isDisposed) return;
        this.setStarting(false);
        this.form.showError(err);
      }
    );
  }

  private setStarting(starting: boolean): void {
    this._starting = starting;
    const train = this.node.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept');
    if (train) {
      // Not `disabled`: a focused button that becomes disabled drops the focus to the page, and
      // the dialog would no longer hear Escape. A second Train while starting is ignored above.
      train.setAttribute('aria-disabled', String(starting));
      const label = train.querySelector('.jp-Dialog-buttonLabel') ?? train;
      label.textContent = starting ? 'Starting…' : 'Train';
    }
  }
}

export function runRequestBody(payload: NotebookPayload, settings: TrainSettings) {
  return {
    source: payload,
    objective: settings.objective,
    backend: settings.backend,
    ...(settings.deadlineMin !== undefined ? { deadlineS: Math.round(settings.deadlineMin * 60) } : {}),
    ...(settings.budgetUsd !== undefined ? { budgetUsd: settings.budgetUsd } : {})
  };
}

const FORM_HTML = `
<div class="jp-smlt-Field">
  <label for="smlt-objective">Objective</label>
  <select id="smlt-objective" name="objective">
    <option value="time">Fastest (time)</option>
    <option value="cost">Cheapest (cost)</option>
  </select>
  <span class="jp-smlt-FieldError" data-error-for="objective" role="alert"></span>
</div>
<div class="jp-smlt-Field">
  <label for="smlt-deadline">Deadline (minutes)</label>
  <input id="smlt-deadline" name="deadline" type="text" inputmode="decimal" placeholder="none" autocomplete="off">
  <span class="jp-smlt-FieldError" data-error-for="deadline" role="alert"></span>
</div>
<div class="jp-smlt-Field">
  <label for="smlt-budget">Budget (US$)</label>
  <input id="smlt-budget" name="budget" type="text" inputmode="decimal" placeholder="none" autocomplete="off">
  <span class="jp-smlt-FieldError" data-error-for="budget" role="alert"></span>
</div>
<div class="jp-smlt-Field">
  <label for="smlt-backend">Backend</label>
  <select id="smlt-backend" name="backend"></select>
  <span class="jp-smlt-FieldError" data-error-for="backend" role="alert"></span>
</div>
<p class="jp-smlt-Estimate" aria-live="polite"></p>
<div class="jp-smlt-Found" hidden><p class="jp-smlt-FoundSummary"></p><ul class="jp-smlt-FoundWarnings"></ul></div>
<p class="jp-smlt-FormError" role="alert" hidden></p>`;
