/**
 * Asynchronous successive halving (ASHA, Li et al. 2020): every trial trains to the first rung;
 * whenever a trial is among the best 1/eta of those that finished a rung, it is promoted to the
 * next, without waiting for the rest of the rung. Once every trial has run, the rungs finish as
 * synchronous halving would (at least one trial reaches the last rung). Rungs are measured in epochs (1, 3, 9 with
 * eta 3). Pure and serializable: the sweep runner (run-sweep.ts) and the simulator benchmark drive
 * the same policy, and a resumed sweep continues from its saved state.
 */

export type Direction = 'maximize' | 'minimize';

export interface AshaOptions {
  trials: number;
  /** Cumulative epochs at each rung, increasing; the last is the most a trial trains. */
  rungs: readonly number[];
  eta: number;
  direction: Direction;
}

export interface Job {
  trial: number;
  /** The rung the job trains to. */
  rung: number;
  fromEpochs: number;
  toEpochs: number;
  kind: 'start' | 'promote';
}

export interface AshaTrial {
  /** The metric at each rung finished (index = rung). */
  metrics: number[];
  running: boolean;
  /** Set once it is promoted past its last finished rung. */
  promoted: boolean;
  failed?: string;
}

export interface AshaState {
  trials: AshaTrial[];
}

/** Rungs anchored at `maxEpochs`, each eta times the one before, none below `minEpochs`: 10 epochs, eta 3 → 1, 3, 10. */
export function rungsFor(minEpochs: number, maxEpochs: number, eta: number): number[] {
  const levels = Math.max(0, Math.floor(Math.log(maxEpochs / minEpochs) / Math.log(eta) + 1e-9));
  const rungs: number[] = [];
  for (let k = levels; k >= 0; k--) {
    const epochs = Math.max(minEpochs, Math.round(maxEpochs / eta ** k));
    if (epochs > (rungs.at(-1) ?? 0)) rungs.push(epochs);
  }
  return rungs;
}

/** How many trials successive halving takes to each rung: all to the first, a 1/eta share further each time. */
export function trialsPerRung(trials: number, rungs: number, eta: number): number[] {
  return Array.from({ length: rungs }, (_, k) => Math.max(1, Math.floor(trials / eta ** k)));
}

/** The trial-epochs a whole sweep trains, as successive halving promotes. */
export function expectedTrialEpochs(options: Pick<AshaOptions, 'trials' | 'rungs' | 'eta'>): number {
  const counts = trialsPerRung(options.trials, options.rungs.length, options.eta);
  return counts.reduce((sum, n, k) => sum + n * (options.rungs[k]! - (options.rungs[k - 1] ?? 0)), 0);
}

export class Asha {
  private readonly trials: AshaTrial[];

  constructor(
    readonly options: AshaOptions,
    state?: AshaState,
  ) {
    this.trials = state
      ? state.trials.map((t) => ({ ...t, metrics: [...t.metrics] }))
      : Array.from({ length: options.trials }, () => ({ metrics: [], running: false, promoted: false }));
  }

  /** The next job: the highest promotion due, else a trial not started yet; undefined when neither (wait, or done). */
  next(): Job | undefined {
    const { rungs } = this.options;
    for (let k = rungs.length - 2; k >= 0; k--) {
      const trial = this.promotable(k);
      if (trial !== undefined) return { trial, rung: k + 1, fromEpochs: rungs[k]!, toEpochs: rungs[k + 1]!, kind: 'promote' };
    }
    const fresh = this.trials.findIndex((t) => t.metrics.length === 0 && !t.running && t.failed === undefined);
    return fresh < 0 ? undefined : { trial: fresh, rung: 0, fromEpochs: 0, toEpochs: rungs[0]!, kind: 'start' };
  }

  started(job: Job): void {
    const trial = this.trials[job.trial]!;
    trial.running = true;
    if (job.kind === 'promote') trial.promoted = true;
  }

  /** The trial finished `rung` with `metric`; it waits there until it is promoted (or the sweep ends). */
  completed(trial: number, rung: number, metric: number): void {
    const t = this.trials[trial]!;
    t.metrics[rung] = metric;
    t.running = false;
    t.promoted = false;
  }

  /** The trial failed (a variant that cannot train, out of memory, a NaN loss): it is never promoted. */
  failed(trial: number, reason: string): void {
    const t = this.trials[trial]!;
    t.running = false;
    t.failed = reason;
  }

  /** A job that could not run (stopped by the budget or deadline, cancelled): the trial may be picked again. */
  interrupted(trial: number): void {
    const t = this.trials[trial]!;
    t.running = false;
    t.promoted = false;
  }

  get running(): number {
    return this.trials.filter((t) => t.running).length;
  }

  /** The trial with the best metric among those that finished the deepest rung reached. */
  best(): { trial: number; rung: number; metric: number } | undefined {
    // Compared at the deepest rung any trial finished: a trial trained less is not ranked against
    // one trained more on the strength of a noisy early metric (the deeper one won its rungs).
    const rung = Math.max(-1, ...this.trials.filter((t) => t.failed === undefined).map((t) => t.metrics.length - 1));
    let best: { trial: number; rung: number; metric: number } | undefined;
    this.trials.forEach((t, trial) => {
      if (t.failed !== undefined || t.metrics.length - 1 !== rung) return;
      const metric = t.metrics[rung]!;
      if (!best || this.better(metric, best.metric)) best = { trial, rung, metric };
    });
    return best;
  }

  /** The trial-epochs left to train if successive halving runs its course from here. */
  remainingTrialEpochs(): number {
    const { rungs, eta } = this.options;
    const alive = this.trials.filter((t) => t.failed === undefined).length;
    const counts = trialsPerRung(alive, rungs.length, eta);
    return counts.reduce((sum, n, k) => {
      const reached = this.trials.filter((t) => t.failed === undefined && (t.metrics.length > k || (t.running && t.metrics.length === k))).length;
      return sum + Math.max(0, n - reached) * (rungs[k]! - (rungs[k - 1] ?? 0));
    }, 0);
  }

  state(): AshaState {
    return { trials: this.trials.map((t) => ({ ...t, metrics: [...t.metrics] })) };
  }

  trial(index: number): Readonly<AshaTrial> {
    return this.trials[index]!;
  }

  private better(a: number, b: number): boolean {
    return this.options.direction === 'maximize' ? a > b : a < b;
  }

  /** The best waiting trial at rung k, if it is within the top 1/eta of the trials that finished rung k. */
  private promotable(k: number): number | undefined {
    const finished = this.trials
      .map((t, trial) => ({ t, trial }))
      .filter(({ t }) => t.metrics.length > k && t.failed === undefined)
      .sort((a, b) => (this.better(a.t.metrics[k]!, b.t.metrics[k]!) ? -1 : this.better(b.t.metrics[k]!, a.t.metrics[k]!) ? 1 : a.trial - b.trial));
    // Once no trial is left to start and none is training, the rungs are complete: each promotes
    // its best 1/eta, at least one, as synchronous halving does, so a small sweep still trains a
    // trial to the last rung instead of stopping where floor(n / eta) is 0.
    const settled = this.trials.every((t) => !t.running && (t.metrics.length > 0 || t.failed !== undefined));
    const share = finished.length / this.options.eta;
    const top = finished.slice(0, settled ? Math.max(1, Math.floor(share)) : Math.floor(share));
    return top.find(({ t }) => t.metrics.length === k + 1 && !t.running && !t.promoted)?.trial;
  }
}
