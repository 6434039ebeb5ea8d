/**
 * The sweep's decisions under one budget and one deadline: which job runs next (ASHA's), how many
 * run at once, whether the next could pass the budget or the deadline (then the sweep stops there,
 * keeping the best so far), each with its one-sentence reason. Pure: the runner (run-sweep.ts) and
 * the simulator benchmark drive it with real or simulated time and spend. Prices come from the
 * same planner as single runs (a trial-epoch's predicted time and cost), corrected by what trials
 * really took.
 */
import { Asha, type AshaOptions, type AshaState, type Job, expectedTrialEpochs, trialsPerRung } from './asha.js';

/** A trial-epoch's predicted time and cost, expected and a pessimistic (90 %) bound. */
export interface EpochPrice {
  timeS: number;
  costUsd: number;
  /** The high end of the planner's interval over its expected value (≥ 1). */
  highRatio: number;
}

export interface SweepConstraints {
  budgetUsd?: number;
  deadlineS?: number;
}

export interface SweepSchedulerOptions {
  asha: AshaOptions;
  constraints: SweepConstraints;
  /** The predicted price of one epoch of `trial` before it has run (its model and batch size). */
  priceOf: (trial: number) => EpochPrice;
  /** What starting a job costs in time beyond its epochs (capture, probe, workers' cold start). */
  jobOverheadS: number;
  /** The most trials that may train at once (local: the cores; Lambda: the account's concurrency). */
  maxConcurrency: number;
}

export type Decision =
  | { kind: 'run'; job: Job; reason: string; budgetUsd?: number; deadlineS?: number }
  /** `busy`: as many trials train as may at once (nothing to tell); else the reason it holds back. */
  | { kind: 'wait'; reason: string; busy?: true }
  | { kind: 'stop'; reason: string; why: 'done' | 'budget' | 'deadline' };

export interface SweepForecast {
  concurrency: number;
  trialEpochs: number;
  timeS: { expected: number; high: number };
  costUsd: { expected: number; high: number };
  feasible: boolean;
  /** When not feasible: the fix, naming the numbers (fewer trials, a larger budget, a later deadline). */
  advice?: string;
}

export class SweepScheduler {
  readonly asha: Asha;
  /** Measured over predicted, per trial once it has run, and over all trials so far. */
  private readonly correction = new Map<number, { time: number; cost: number }>();
  private overall = { time: 1, cost: 1, n: 0 };
  /** Cost committed to the jobs running now, by trial. */
  private readonly committed = new Map<number, number>();
  readonly concurrency: number;

  constructor(
    readonly options: SweepSchedulerOptions,
    state?: AshaState,
  ) {
    this.asha = new Asha(options.asha, state);
    this.concurrency = forecastSweep(options).concurrency;
  }

  /** What to do now, `elapsedS` into the sweep with `spentUsd` spent by finished jobs. */
  decide(elapsedS: number, spentUsd: number): Decision {
    const { budgetUsd, deadlineS } = this.options.constraints;
    const running = this.asha.running;
    if (running >= this.concurrency) return { kind: 'wait', busy: true, reason: `${running} of ${this.concurrency} trials at once are training` };
    const job = this.asha.next();
    if (!job) {
      return running > 0
        ? { kind: 'wait', reason: 'no trial is due a promotion until a running trial finishes its rung' }
        : { kind: 'stop', why: 'done', reason: 'every trial has finished or was stopped at its rung' };
    }
    const price = this.price(job.trial);
    const epochs = job.toEpochs - job.fromEpochs;
    const jobUsd = epochs * price.costUsd * price.highRatio;
    const jobS = epochs * price.timeS * price.highRatio + this.options.jobOverheadS;
    const committedUsd = [...this.committed.values()].reduce((a, b) => a + b, 0);
    const what = job.kind === 'start' ? `trial ${job.trial + 1}` : `promoting trial ${job.trial + 1} to ${job.toEpochs} epochs`;
    if (budgetUsd !== undefined && spentUsd + committedUsd + jobUsd > budgetUsd) {
      const left = budgetUsd - spentUsd - committedUsd;
      const reason = `${what} could cost up to $${jobUsd.toPrecision(2)} and $${Math.max(left, 0).toPrecision(2)} of the budget is left`;
      return running > 0 ? { kind: 'wait', reason: `${reason}: waiting for the running trials` } : { kind: 'stop', why: 'budget', reason };
    }
    if (deadlineS !== undefined && elapsedS + jobS > deadlineS) {
      const reason = `${what} could take ${Math.round(jobS)} s and ${Math.max(0, Math.round(deadlineS - elapsedS))} s are left before the deadline`;
      return running > 0 ? { kind: 'wait', reason: `${reason}: waiting for the running trials` } : { kind: 'stop', why: 'deadline', reason };
    }
    const reason =
      job.kind === 'promote'
        ? `trial ${job.trial + 1} is in the best 1/${this.options.asha.eta} after ${job.fromEpochs} epoch${job.fromEpochs === 1 ? '' : 's'}: promoted to ${job.toEpochs} epochs (about $${(epochs * price.costUsd).toPrecision(2)})`
        : `trial ${job.trial + 1} starts its first rung of ${job.toEpochs} epoch${job.toEpochs === 1 ? '' : 's'} (about $${(epochs * price.costUsd).toPrecision(2)}, ${Math.round(epochs * price.timeS)} s)`;
    return {
      kind: 'run',
      job,
      reason,
      // The job's own guard keeps it inside what is left, so no trial can carry the sweep past either.
      ...(budgetUsd !== undefined ? { budgetUsd: budgetUsd - spentUsd - committedUsd } : {}),
      ...(deadlineS !== undefined ? { deadlineS: deadlineS - elapsedS } : {}),
    };
  }

  started(job: Job): void {
    this.asha.started(job);
    const price = this.price(job.trial);
    this.committed.set(job.trial, (job.toEpochs - job.fromEpochs) * price.costUsd * price.highRatio);
  }

  /** A job ended: what it really took calibrates the prices of the jobs after it. */
  finished(job: Job, outcome: { metric?: number; timeS: number; costUsd: number; epochs: number; failed?: string }): void {
    this.committed.delete(job.trial);
    if (outcome.epochs > 0) {
      const predicted = this.options.priceOf(job.trial);
      const measured = {
        time: Math.max(outcome.timeS - this.options.jobOverheadS, 0) / outcome.epochs / predicted.timeS,
        cost: outcome.costUsd / outcome.epochs / Math.max(predicted.costUsd, 1e-12),
      };
      this.correction.set(job.trial, measured);
      const n = this.overall.n + 1;
      this.overall = {
        time: this.overall.time + (measured.time - this.overall.time) / n,
        cost: this.overall.cost + (measured.cost - this.overall.cost) / n,
        n,
      };
    }
    if (outcome.failed !== undefined) this.asha.failed(job.trial, outcome.failed);
    else if (outcome.metric !== undefined && outcome.epochs === job.toEpochs - job.fromEpochs) this.asha.completed(job.trial, job.rung, outcome.metric);
    else this.asha.interrupted(job.trial);
  }

  /** The price of a trial's next epochs: its own measured pace once it has one, else the prediction corrected by the trials so far. */
  price(trial: number): EpochPrice {
    const predicted = this.options.priceOf(trial);
    const c = this.correction.get(trial) ?? this.overall;
    return { timeS: predicted.timeS * c.time, costUsd: predicted.costUsd * c.cost, highRatio: predicted.highRatio };
  }
}

/**
 * The whole sweep's predicted time and cost before launch, and how many trials train at once: the
 * fewest that meet the deadline (fewer at once means ASHA promotes on more evidence), one without
 * a deadline. Not feasible: says what to change.
 */
export function forecastSweep(options: SweepSchedulerOptions): SweepForecast {
  const { asha, constraints, maxConcurrency, jobOverheadS } = options;
  const prices = Array.from({ length: asha.trials }, (_, t) => options.priceOf(t));
  const mean = (f: (p: EpochPrice) => number) => prices.reduce((s, p) => s + f(p), 0) / Math.max(prices.length, 1);
  const epochS = mean((p) => p.timeS);
  const epochUsd = mean((p) => p.costUsd);
  const slowestEpochS = Math.max(...prices.map((p) => p.timeS), 0);
  const highRatio = Math.max(...prices.map((p) => p.highRatio), 1);
  const forTrials = (trials: number, concurrency: number) => {
    const trialEpochs = expectedTrialEpochs({ ...asha, trials });
    const jobs = trialsPerRung(trials, asha.rungs.length, asha.eta).reduce((a, b) => a + b, 0);
    // The slowest trial's rungs one after another: the best trial may be the slowest (a larger model).
    const longest = asha.rungs.at(-1)! * slowestEpochS + asha.rungs.length * jobOverheadS;
    // Graham's bound for greedy list scheduling: the work spread over the slots, plus the longest
    // chain less the share of it overlapped. max(work / slots, chain) is only the lower bound: the
    // last promotions start after most of the rungs below them have run.
    const work = trialEpochs * epochS + jobs * jobOverheadS;
    const timeS = Math.max(work / concurrency + longest * (1 - 1 / concurrency), longest);
    return { trialEpochs, timeS, costUsd: trialEpochs * epochUsd };
  };
  const deadline = constraints.deadlineS;
  let concurrency = 1;
  while (deadline !== undefined && concurrency < Math.min(maxConcurrency, asha.trials) && forTrials(asha.trials, concurrency).timeS * highRatio > deadline) {
    concurrency++;
  }
  const whole = forTrials(asha.trials, concurrency);
  const forecast = {
    concurrency,
    trialEpochs: whole.trialEpochs,
    timeS: { expected: whole.timeS, high: whole.timeS * highRatio },
    costUsd: { expected: whole.costUsd, high: whole.costUsd * highRatio },
  };
  const overBudget = constraints.budgetUsd !== undefined && forecast.costUsd.expected > constraints.budgetUsd;
  const late = deadline !== undefined && forecast.timeS.expected > deadline;
  if (!overBudget && !late) return { ...forecast, feasible: true };
  // The most trials that fit both, at the concurrency allowed.
  let fit = asha.trials;
  const fits = (n: number) => {
    const f = forTrials(n, Math.min(maxConcurrency, n));
    return (constraints.budgetUsd === undefined || f.costUsd <= constraints.budgetUsd) && (deadline === undefined || f.timeS <= deadline);
  };
  while (fit > 0 && !fits(fit)) fit--;
  const fixes = [
    fit > 0 ? `at most ${fit} trials (trials: ${fit})` : undefined,
    overBudget ? `a budget of at least $${forecast.costUsd.expected.toPrecision(2)}` : undefined,
    late ? `a deadline of at least ${Math.ceil(forecast.timeS.expected)} s` : undefined,
  ].filter(Boolean);
  const what = [
    overBudget ? `costs about $${forecast.costUsd.expected.toPrecision(2)} (budget $${constraints.budgetUsd})` : undefined,
    late ? `takes about ${Math.round(forecast.timeS.expected)} s (deadline ${deadline} s)` : undefined,
  ].filter(Boolean);
  return {
    ...forecast,
    feasible: false,
    advice: `${asha.trials} trials to ${asha.rungs.at(-1)} epochs ${what.join(' and ')}: give ${fixes.join(', or ')}.`,
  };
}
