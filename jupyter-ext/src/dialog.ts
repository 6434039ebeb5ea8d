/**
 * The "Train on serverless" dialog: objective, deadline, budget and backend, a live estimate
 * from the planner (refreshed as the values change) and, when the limits cannot be met, the
 * planner's explanation with its fix. Bad values are shown beside their field and keep the
 * dialog open; nothing launches until the form is valid.
 *
 * `LimitsForm` and `LaunchDialog` are the parts the sweep dialog (sweep-dialog.ts) shares: the
 * deadline, budget and backend fields, the debounced estimate, errors beside their field, and a
 * dialog that stays open while the form is invalid or the start fails.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { costOn, formatDuration, formatUsd } from '../../shared/dist/panel/format.js';
import { ApiError, postJSON } from './request';
import type { Estimate, NotebookPayload, ServerConfig, TrainSettings } from './tokens';

export type FieldName = 'objective' | 'deadline' | 'budget' | 'backend';
export type FieldErrors = Partial<Record<FieldName, string>>;

/** What every launch form collects: the limits and where to run. */
export interface LimitSettings {
  /** Minutes; undefined when left empty. */
  deadlineMin?: number;
  budgetUsd?: number;
  backend: string;
}

/** Server-side field names (of the run and sweep requests) mapped to the dialog's fields. */
const FIELD_OF_REQUEST: Record<string, FieldName> = {
  objective: 'objective',
  deadlineS: 'deadline',
  budgetUsd: 'budget',
  backend: 'backend'
};

const MAX_DEADLINE_MIN = 7 * 24 * 60;

/**
 * A form of limits with a live estimate: subclasses say which fields they have, how to read
 * their own, how to ask for the estimate and how to put it in words. The estimate is asked for
 * 600 ms after the last edit, and only the answer for the values now in the form is shown.
 */
export abstract class LimitsForm<S extends LimitSettings, E> extends Widget implements Dialog.IBodyWidget<S> {
  private _estimateSeq = 0;
  private _timer: number | undefined;
  /** Whether the limits can be met, by the estimate for the values now in the form (undefined while pending or failed). */
  private _feasible: boolean | undefined;
  /** The values the current (or pending) estimate is for: a blur's `change` event is not a change. */
  private _estimatedKey: string | undefined;

  protected constructor(
    protected readonly config: ServerConfig,
    private readonly fields: FieldName[],
    bodyHtml: string,
    initial: Partial<LimitSettings>
  ) {
    super();
    this.addClass('jp-smlt-LimitsForm');
    this.node.innerHTML = bodyHtml;
    const backend = this.input('backend') as HTMLSelectElement;
    for (const b of config.backends) {
      const option = document.createElement('option');
      option.value = b.name;
      option.textContent = b.available ? b.label : `${b.label} (${b.note ?? 'not available'})`;
      option.disabled = !b.available;
      backend.appendChild(option);
    }
    if (initial.deadlineMin !== undefined) this.input('deadline').value = String(initial.deadlineMin);
    if (initial.budgetUsd !== undefined) this.input('budget').value = String(initial.budgetUsd);
    backend.value = initial.backend ?? config.backends.find((b) => b.available)?.name ?? '';
  }

  /** The values as typed, read by the subclass (its own fields, and `readLimits` for the common ones). */
  protected abstract readSettings(errors: FieldErrors): S;

  protected abstract requestEstimate(settings: S): Promise<E>;

  /** The estimate in words, and whether the limits can be met. */
  protected abstract presentEstimate(estimate: E, settings: S): { text: string; feasible: boolean };

  /** Starts listening to edits and asks for the first estimate; the subclass calls it once its fields are set. */
  protected listen(): void {
    this.node.addEventListener('input', () => this.changed());
    this.node.addEventListener('change', () => this.changed());
    this.changed(0);
  }

  /** The values as typed; `validate()` says whether they may be sent. */
  getValue(): S {
    return this.read().settings;
  }

  /** Shows every problem beside its field; true when the form may launch. */
  validate(): boolean {
    const { errors } = this.read();
    for (const name of this.fields) this.showFieldError(name, errors[name]);
    if (Object.keys(errors).length > 0) {
      this.input(Object.keys(errors)[0] as FieldName).focus();
      return false;
    }
    if (this._feasible === false) {
      this.showGeneral('Not started: change the deadline or the budget as the estimate above says.');
      return false;
    }
    return true;
  }

  /** A failure of the start request: beside its field when it names one, else under the form. */
  showError(err: unknown): void {
    const field = err instanceof ApiError && err.field ? FIELD_OF_REQUEST[err.field] : undefined;
    if (field && this.fields.includes(field)) {
      this.showFieldError(field, (err as Error).message);
    } else {
      this.showGeneral(err instanceof Error ? err.message : String(err));
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this._estimateSeq++;
    super.dispose();
  }

  protected input(name: FieldName): HTMLInputElement | HTMLSelectElement {
    return this.node.querySelector(`[name="${name}"]`) as HTMLInputElement;
  }

  /** The deadline, budget and backend fields; problems go into `errors`. */
  protected readLimits(errors: FieldErrors): LimitSettings {
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
    const limits: LimitSettings = { backend };
    if (deadlineMin !== undefined && errors.deadline === undefined) limits.deadlineMin = deadlineMin;
    if (budgetUsd !== undefined && errors.budget === undefined) limits.budgetUsd = budgetUsd;
    return limits;
  }

  private read(): { settings: S; errors: FieldErrors } {
    const errors: FieldErrors = {};
    const settings = this.readSettings(errors);
    return { settings, errors };
  }

  private changed(delayMs = 600): void {
    const { settings, errors } = this.read();
    for (const name of this.fields) this.showFieldError(name, errors[name]);
    const key = JSON.stringify([settings, errors]);
    if (key === this._estimatedKey) return;
    this._estimatedKey = key;
    this.showGeneral(undefined);
    this._feasible = undefined;
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
      const estimate = await this.requestEstimate(settings);
      if (seq !== this._estimateSeq || this.isDisposed) return;
      const { text, feasible } = this.presentEstimate(estimate, settings);
      this._feasible = feasible;
      this.showEstimate(text, feasible ? 'ok' : 'infeasible');
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

  private showEstimate(text: string, kind: 'idle' | 'pending' | 'ok' | 'infeasible'): void {
    const slot = this.node.querySelector('.jp-smlt-Estimate') as HTMLElement;
    slot.textContent = text;
    slot.dataset.kind = kind;
  }
}

export class TrainForm extends LimitsForm<TrainSettings, Estimate> {
  constructor(
    private readonly payload: NotebookPayload,
    config: ServerConfig,
    initial: Partial<TrainSettings> = {}
  ) {
    super(config, ['objective', 'deadline', 'budget', 'backend'], TRAIN_FORM_HTML, initial);
    this.addClass('jp-smlt-TrainForm');
    if (initial.objective) (this.input('objective') as HTMLSelectElement).value = initial.objective;
    this.listen();
  }

  protected readSettings(errors: FieldErrors): TrainSettings {
    const objective = this.input('objective').value;
    if (objective !== 'time' && objective !== 'cost') errors.objective = 'Choose time or cost.';
    return { objective: objective === 'cost' ? 'cost' : 'time', ...this.readLimits(errors) };
  }

  protected requestEstimate(settings: TrainSettings): Promise<Estimate> {
    return postJSON<Estimate>('estimate', runRequestBody(this.payload, settings));
  }

  protected presentEstimate(estimate: Estimate): { text: string; feasible: boolean } {
    this.showFound(estimate.found);
    const time = `${formatDuration(estimate.timeS.expected)} (${formatDuration(estimate.timeS.low)} to ${formatDuration(estimate.timeS.high)})`;
    const cost = `${formatUsd(estimate.costUsd.expected)} (up to ${formatUsd(estimate.costUsd.high)})`;
    const shape =
      `${plural(estimate.workers, 'worker')} × ${estimate.memoryMb} MB${estimate.backend ? ` on ${estimate.backend.name}` : ''}, ` +
      `${plural(estimate.epochs, 'epoch')} of ${plural(estimate.iterationsPerEpoch, 'iteration')}`;
    if (estimate.feasible) return { text: `Estimate: ${time}, ${costOn(cost, estimate.platform)}; ${shape}.`, feasible: true };
    return {
      text: `Cannot meet these limits: about ${time} and ${cost}. ${estimate.advice ?? 'Relax the deadline or the budget.'}`,
      feasible: false
    };
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
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A form `LaunchDialog` can drive: it validates, gives its value and shows a failed start. */
export interface LaunchForm<S> extends Widget, Dialog.IBodyWidget<S> {
  getValue(): S;
  validate(): boolean;
  showError(err: unknown): void;
}

/**
 * A dialog that stays open while the form is invalid and while the launch starts: the accept
 * button checks the form, then awaits `start`; a start that fails shows its error in the form and
 * leaves the dialog open and working (Cancel, Escape, accept again), and only a start that
 * succeeds closes it.
 */
export class LaunchDialog<S> extends Dialog<S> {
  private _starting = false;

  constructor(
    private readonly form: LaunchForm<S>,
    private readonly start: (settings: S) => Promise<void>,
    private readonly labels: { title: string; accept: string; className: string; focus: string }
  ) {
    super({
      title: labels.title,
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: labels.accept })],
      focusNodeSelector: labels.focus
    });
    this.addClass(labels.className);
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
    const accept = this.node.querySelector<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept');
    if (accept) {
      // Not `disabled`: a focused button that becomes disabled drops the focus to the page, and
      // the dialog would no longer hear Escape. A second accept while starting is ignored above.
      accept.setAttribute('aria-disabled', String(starting));
      const label = accept.querySelector('.jp-Dialog-buttonLabel') ?? accept;
      label.textContent = starting ? 'Starting…' : this.labels.accept;
    }
  }
}

export class TrainDialog extends LaunchDialog<TrainSettings> {
  constructor(form: TrainForm, start: (settings: TrainSettings) => Promise<void>) {
    super(form, start, { title: 'Train on serverless', accept: 'Train', className: 'jp-smlt-TrainDialog', focus: 'select[name="objective"]' });
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

/** One labelled field with its error slot; `id` is unique in the page while one dialog is up. */
function field(name: FieldName, label: string, control: string): string {
  return `
<div class="jp-smlt-Field">
  <label for="smlt-${name}">${label}</label>
  ${control}
  <span class="jp-smlt-FieldError" data-error-for="${name}" role="alert"></span>
</div>`;
}

const textInput = (name: FieldName) =>
  `<input id="smlt-${name}" name="${name}" type="text" inputmode="decimal" placeholder="none" autocomplete="off">`;

/** The deadline, budget and backend fields, then the estimate; the sweep dialog's body too. */
export const LIMIT_FIELDS_HTML =
  field('deadline', 'Deadline (minutes)', textInput('deadline')) +
  field('budget', 'Budget (US$)', textInput('budget')) +
  field('backend', 'Backend', '<select id="smlt-backend" name="backend"></select>') +
  `
<p class="jp-smlt-Estimate" aria-live="polite"></p>`;

export const FORM_ERROR_HTML = `
<p class="jp-smlt-FormError" role="alert" hidden></p>`;

const TRAIN_FORM_HTML =
  field(
    'objective',
    'Objective',
    `<select id="smlt-objective" name="objective">
    <option value="time">Fastest (time)</option>
    <option value="cost">Cheapest (cost)</option>
  </select>`
  ) +
  LIMIT_FIELDS_HTML +
  `
<div class="jp-smlt-Found" hidden><p class="jp-smlt-FoundSummary"></p><ul class="jp-smlt-FoundWarnings"></ul></div>` +
  FORM_ERROR_HTML;
