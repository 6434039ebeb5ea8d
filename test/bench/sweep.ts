/**
 * `npm run bench -- sweep [--json] [--seeds N] [--first-seed S] [--workloads a,b] [--deadline-factor lo,hi]`:
 * a design sweep (ASHA driven through the real SweepScheduler) against random search and the full
 * grid, under one money budget, in the simulated Lambda + S3 cloud (shared/src/sim).
 *
 * Workloads are accuracy surfaces over settings with a learning curve per configuration, a power
 * law towards an asymptote: metric(e) = A − (A − chance) / (1 + e/τ), A and the pace τ set by the
 * settings (mnist-mlp: learning rate, units, batch; cifar-cnn: learning rate, dropout, filters,
 * batch, dropout slowing the early epochs; ridge: a narrow diagonal optimum in x, y, with a
 * learning rate and a width). A learning rate above the best learns faster and ends lower, so early
 * rungs favour it. Each seed moves the optimum a little (Optimum), so the grid's points are not
 * always on it nor always off it. What a trial observes is the curve plus held-out noise, seeded per
 * configuration and epoch and the same under every method: noisy evaluation is what makes stopping
 * early hard. Too high a learning rate diverges: the trial fails in that epoch (and is charged it).
 *
 * Time and money come from the simulator: a trial's model and batch make a SimWorkload (parameters
 * and compute per sample scale with the model, iterations with the batch) trained at one fixed,
 * sensible cluster per workload (a lone 1,769 MB worker for the MLPs, 8 × 3,008 MB for the CNN),
 * not by the planner: the planner picks a cluster per run, and running it for every job of 200
 * seeds would make this slow without changing what is measured (which trials the sweep trains how
 * far, and what that costs). Each job is a fresh simulated cloud (cold start, data download) seeded
 * per configuration, running the job's epochs in those epochs' weather, so a trial's epoch costs the
 * same under every method. The scheduler is told a prediction: the epoch in a calm cloud (no
 * weather, drift or failures) times a profiler error (log-sd 0.15 per seed, 0.05 per trial), with a
 * 90 % bound of 1.25 × it; it corrects that from the jobs it sees, as in a real sweep.
 *
 * Per seed, one budget for all three: a third of what the full grid really cost.
 *  - ASHA (eta 3): as many trials as forecastSweep calls feasible within the budget (what its advice
 *    tells a user), drawn by sampleTrials; deadline = f × forecastSweep's time with every trial at
 *    once (the fastest the sweep can go), f log-uniform in [1.25, 4] by default: at 1.25 the sweep
 *    needs nearly all its trials at once, at 4 it still needs several (one at a time it would take
 *    5-27 × its fastest here), so the deadline always binds the concurrency and rarely makes the
 *    sweep impossible. That fastest time is forecastSweep's: a change to its time model moves these
 *    deadlines, so compare two policies at the same deadlines. An event loop of simulated time runs
 *    the jobs in parallel at the scheduler's concurrency and calls decide() at every event.
 *  - random search: uniform random configurations, each to the last epoch, while the next one's real
 *    cost still fits the budget (hindsight: generous to random search).
 *  - the grid: every gridTrials configuration to the last epoch; its cost is the reference.
 *
 * The gap is the grid's best TRUE metric (noise-free, at the last epoch) minus the TRUE metric at the
 * last epoch of the configuration a method picks (the best it observed; ASHA: Asha.best()), negative
 * when a method finds a setting between the grid's points. Goals (issue 19): on every workload the
 * mean gap ≤ 0.01 (the share of seeds within 0.01 and the p90 are printed beside it), ASHA's spend ≤
 * 1/3 of the grid's on every seed, deadline hit ≥ 99 %, no budget overrun. Nothing asserts; with
 * --json the last line is one JSON object.
 */
import { parseArgs } from 'node:util';
import { type SimConfig, type SimWorkload, DEFAULT_SIM_PARAMS, SimulatedCloud, WORKLOADS, noiseNormal, noiseUniform } from '@smlt/shared/sim/index';
import { type Param, type Values, gridTrials, parseDomain, sampleTrials, valueAt } from '@smlt/shared/capture/search-space';
import { type Job, rungsFor } from '@smlt/shared/sweep/asha';
import { type EpochPrice, type SweepSchedulerOptions, SweepScheduler, forecastSweep } from '@smlt/shared/sweep/scheduler';
import { mulberry32 } from '@smlt/shared/data/order';

interface Surface {
  name: string;
  description: string;
  params: Param[];
  /** Points per float range in the grid baseline. */
  gridPoints: number;
  maxEpochs: number;
  /** Accuracy before training (chance). */
  chance: number;
  asymptote: (v: Values, o: Optimum) => number;
  /** Epochs to cover half the way from chance to the asymptote. */
  paceEpochs: (v: Values, o: Optimum) => number;
  /** The epoch (1-based) in which the loss turns NaN, for settings that diverge. */
  divergesAt?: (v: Values, o: Optimum) => number | undefined;
  /** Sd of the held-out metric a trial observes. */
  noiseSd: number;
  /** The simulated job: the trial's model and batch as a workload, and the cluster it trains on. */
  job: (v: Values) => { workload: SimWorkload; config: SimConfig };
}

/**
 * Where a seed puts the optimum: the best learning rate × a factor in [1/2, 2], two offsets in
 * [−1, 1]. Without it the grid's points would sit at the same place relative to the optimum on
 * every seed, close (the grid wins by construction) or far (it loses).
 */
interface Optimum {
  lrFactor: number;
  a: number;
  b: number;
}

function optimumOf(seed: number): Optimum {
  const offset = (channel: string) => 2 * noiseUniform(seed, -4, channel) - 1;
  return { lrFactor: 2 ** offset('lr'), a: offset('a'), b: offset('b') };
}

const param = (name: string, domain: unknown): Param => ({ name, domain: parseDomain(domain, name) });
const num = (v: Values, name: string) => v[name] as number;
const LAMBDA_CONCURRENCY = 1000;
const PRICE_HIGH_RATIO = 1.25;
const ETA = 3;

const mlpBase = WORKLOADS['mlp-mnist-wasm'];
const cnnBase = WORKLOADS['resnet18-native'];

/** An MLP 784-units-10 at `batch` on a lone worker: parameters and compute scale with the units. */
function mlpJob(units: number, batch: number, epochs: number, widthFactor = 1) {
  const paramCount = (785 * units + (units + 1) * 10) * widthFactor;
  const workload: SimWorkload = {
    ...mlpBase,
    name: `mlp-${units}x${widthFactor}-b${batch}`,
    paramCount,
    epochs,
    batchSize: () => batch,
    truth: { ...mlpBase.truth, computeMsPerSample: (mlpBase.truth.computeMsPerSample * paramCount) / mlpBase.paramCount },
  };
  return { workload, config: { workers: 1, memoryMb: 1769, sync: 'hierarchical' as const } };
}

/** log10 of how far a learning rate is from the best one. */
const lrOff = (v: Values, best: number) => Math.log10(num(v, 'learningRate') / best);

// Paces and asymptotes aim at the usual curves: an MLP on MNIST ≈ 95.5 % after one epoch and
// ≈ 98 % after ten; a small CNN on CIFAR-10 ≈ 50 % after one, ≈ 64 % after three, ≈ 73 % after 27.
// A learning rate above the best learns faster at first and ends lower: early rungs favour it.
const SURFACES: Surface[] = [
  {
    name: 'mnist-mlp',
    description: 'MLP on MNIST: learning rate (log), units, batch; the best rate grows with the batch; 10 epochs',
    params: [param('learningRate', { log: [1e-4, 0.1] }), param('units', [64, 128, 256, 512]), param('batchSize', [32, 128, 512])],
    gridPoints: 5,
    maxEpochs: 10,
    chance: 0.1,
    asymptote: (v, o) => {
      const best = 1.5e-3 * o.lrFactor * Math.sqrt(num(v, 'batchSize') / 128);
      return 0.982 + (0.004 * Math.log2(num(v, 'units') / 64)) / 3 - (0.003 * Math.log2(num(v, 'batchSize') / 32)) / 4 - 0.02 * lrOff(v, best) ** 2;
    },
    paceEpochs: (v, o) => {
      const best = 1.5e-3 * o.lrFactor * Math.sqrt(num(v, 'batchSize') / 128);
      return 0.03 * (best / num(v, 'learningRate')) ** 0.7 * Math.sqrt(num(v, 'batchSize') / 128);
    },
    divergesAt: (v) => (num(v, 'learningRate') > 0.04 * Math.sqrt(num(v, 'batchSize') / 128) ? 1 : undefined),
    noiseSd: 0.002,
    job: (v) => mlpJob(num(v, 'units'), num(v, 'batchSize'), 10),
  },
  {
    name: 'cifar-cnn',
    description: 'small CNN on CIFAR-10: learning rate (log), dropout (slows early epochs; bigger models want more), filters, batch; 27 epochs',
    params: [param('learningRate', { log: [1e-4, 0.1] }), param('dropout', { float: [0, 0.6] }), param('filters', [16, 32, 64]), param('batchSize', [64, 256])],
    gridPoints: 4,
    maxEpochs: 27,
    chance: 0.1,
    asymptote: (v, o) => {
      const size = Math.log2(num(v, 'filters') / 16);
      const best = 3e-3 * o.lrFactor * Math.sqrt(num(v, 'batchSize') / 64);
      const bestDropout = 0.2 + 0.1 * size + 0.1 * o.a;
      return 0.7 + 0.025 * size - 0.06 * lrOff(v, best) ** 2 - 0.5 * (num(v, 'dropout') - bestDropout) ** 2;
    },
    paceEpochs: (v, o) => {
      const best = 3e-3 * o.lrFactor * Math.sqrt(num(v, 'batchSize') / 64);
      return 0.6 * (best / num(v, 'learningRate')) ** 0.7 * (1 + 1.5 * num(v, 'dropout')) * Math.sqrt(num(v, 'batchSize') / 64);
    },
    divergesAt: (v) => (num(v, 'learningRate') > 0.035 * Math.sqrt(num(v, 'batchSize') / 64) ? 2 : undefined),
    noiseSd: 0.005,
    job: (v) => {
      // ResNet-18's data and sync path with a small conv net: parameters and compute ∝ filters².
      const scale = (num(v, 'filters') / 32) ** 2;
      const workload: SimWorkload = {
        ...cnnBase,
        name: `cnn-${num(v, 'filters')}-b${num(v, 'batchSize')}`,
        paramCount: Math.round(1_200_000 * scale),
        activationBytesPerSample: Math.round(1.5 * 1024 * 1024 * Math.sqrt(scale)),
        epochs: 27,
        batchSize: () => num(v, 'batchSize'),
        truth: { ...cnnBase.truth, computeMsPerSample: 3 * scale },
      };
      return { workload, config: { workers: 8, memoryMb: 3008, sync: 'hierarchical' } };
    },
  },
  {
    name: 'ridge',
    description: 'synthetic: a narrow optimum on a diagonal x + y = c (x and y interact), learning rate (log), width; 20 epochs',
    params: [param('x', { float: [0, 1] }), param('y', { float: [0, 1] }), param('learningRate', { log: [1e-3, 1] }), param('width', [1, 4])],
    gridPoints: 4,
    maxEpochs: 20,
    chance: 0.5,
    asymptote: (v, o) => {
      // Across the ridge the optimum is 0.06 wide, along it 0.25: x alone or y alone says little.
      const across = (num(v, 'x') + num(v, 'y') - (1 + 0.15 * o.a)) / Math.SQRT2;
      const along = num(v, 'x') - (0.5 + 0.15 * o.b);
      const bump = Math.exp(-((across / 0.06) ** 2 + (along / 0.25) ** 2) / 2);
      return 0.6 + 0.3 * bump + 0.01 * (num(v, 'width') === 4 ? 1 : 0) - 0.04 * lrOff(v, 0.03 * o.lrFactor) ** 2;
    },
    paceEpochs: (v, o) => 0.5 * ((0.03 * o.lrFactor) / num(v, 'learningRate')) ** 0.6,
    noiseSd: 0.005,
    job: (v) => mlpJob(256, 256, 20, num(v, 'width')),
  },
];

/** The noise-free metric after `epochs` epochs: a power-law approach to the asymptote (long tails, as real curves have). */
function trueMetric(s: Surface, v: Values, epochs: number, seed: number): number {
  const o = optimumOf(seed);
  const a = s.asymptote(v, o);
  return a - (a - s.chance) / (1 + epochs / s.paceEpochs(v, o));
}

/** What a trial observes after `epochs`: the curve plus held-out noise, the same for every method. */
function observedMetric(s: Surface, v: Values, epochs: number, seed: number): number {
  return trueMetric(s, v, epochs, seed) + s.noiseSd * noiseNormal(seed, epochs, `metric:${JSON.stringify(v)}`);
}

interface JobOutcome {
  timeS: number;
  costUsd: number;
  /** Epochs trained (fewer than asked when the loss diverged). */
  epochs: number;
  metric?: number;
  failed?: string;
}

/** One job of a trial, epochs [from, to): a fresh simulated cloud (cold start, data), seeded per configuration. */
function runJob(s: Surface, v: Values, from: number, to: number, seed: number): JobOutcome {
  const { workload, config } = s.job(v);
  const cloudSeed = Math.floor(noiseUniform(seed, 0, `cloud:${JSON.stringify(v)}`) * 2 ** 31);
  const cloud = new SimulatedCloud(workload, cloudSeed);
  const diverges = s.divergesAt?.(v, optimumOf(seed));
  const last = diverges !== undefined ? Math.min(to, diverges) : to;
  let timeS = 0;
  let costUsd = 0;
  for (let e = from; e < last; e++) {
    const epoch = cloud.runEpoch(e, config);
    timeS += epoch.durationS;
    costUsd += epoch.costUsd;
  }
  const epochs = Math.max(last - from, 0);
  if (diverges !== undefined && diverges <= to) return { timeS, costUsd, epochs, failed: `the loss turned NaN in epoch ${diverges}` };
  return { timeS, costUsd, epochs, metric: observedMetric(s, v, to, seed) };
}

const CALM = { ...DEFAULT_SIM_PARAMS, weatherSigma: 0, computeWeatherSigma: 0, driftProbability: 0, failuresPerWorkerHour: 0 };
const calmCache = new Map<string, { epochS: number; epochUsd: number; overheadS: number }>();

/** An epoch in a calm cloud (no weather, drift, failures), and what a fresh job adds before it. */
function calmEpoch(s: Surface, v: Values) {
  const { workload, config } = s.job(v);
  const key = `${s.name}:${workload.name}`;
  let calm = calmCache.get(key);
  if (!calm) {
    const cloud = new SimulatedCloud(workload, 1, CALM);
    const first = cloud.runEpoch(0, config);
    const second = cloud.runEpoch(1, config);
    calm = { epochS: second.durationS, epochUsd: second.costUsd, overheadS: Math.max(first.durationS - second.durationS, 0) };
    calmCache.set(key, calm);
  }
  return calm;
}

/** What the scheduler is told before a trial runs: the calm epoch times a profiler error. */
function predictedPrice(s: Surface, v: Values, seed: number, trial: number): EpochPrice {
  const calm = calmEpoch(s, v);
  const error = Math.exp(0.15 * noiseNormal(seed, -1, 'profiler') + 0.05 * noiseNormal(seed, trial, 'profiler-trial'));
  return { timeS: calm.epochS * error, costUsd: calm.epochUsd * error, highRatio: PRICE_HIGH_RATIO };
}

interface Pick {
  values: Values;
  /** True metric at the last epoch. */
  trueFinal: number;
}

interface SeedOutcome {
  surface: string;
  seed: number;
  gridUsd: number;
  budgetUsd: number;
  gridBest: number;
  /** The grid's own pick (best observed), for context. */
  gridPickGap: number;
  asha: {
    trials: number;
    /** Trials that trained at least their first rung, and those that reached the last. */
    started: number;
    atLastRung: number;
    concurrency: number;
    /** The deadline over the forecast's fastest sweep. */
    deadlineFactor: number;
    deadlineS: number;
    endS: number;
    spentUsd: number;
    stop: string;
    jobs: number;
    pick?: Pick;
    gap: number;
  };
  random: { trials: number; spentUsd: number; pick?: Pick; gap: number };
}

function runGrid(s: Surface, seed: number) {
  const grid = gridTrials(s.params, s.gridPoints);
  let costUsd = 0;
  let bestTrue = -Infinity;
  let pick: { values: Values; observed: number } | undefined;
  for (const v of grid) {
    const outcome = runJob(s, v, 0, s.maxEpochs, seed);
    costUsd += outcome.costUsd;
    if (outcome.metric === undefined) continue;
    bestTrue = Math.max(bestTrue, trueMetric(s, v, s.maxEpochs, seed));
    if (!pick || outcome.metric > pick.observed) pick = { values: v, observed: outcome.metric };
  }
  return { size: grid.length, costUsd, bestTrue, pickTrue: pick ? trueMetric(s, pick.values, s.maxEpochs, seed) : s.chance };
}

function schedulerOptions(s: Surface, trials: Values[], seed: number, constraints: { budgetUsd: number; deadlineS?: number }): SweepSchedulerOptions {
  const rungs = rungsFor(1, s.maxEpochs, ETA);
  const overheads = trials.map((v) => calmEpoch(s, v).overheadS);
  return {
    asha: { trials: trials.length, rungs, eta: ETA, direction: 'maximize' },
    constraints,
    priceOf: (t) => predictedPrice(s, trials[t]!, seed, t),
    jobOverheadS: overheads.reduce((a, b) => a + b, 0) / Math.max(overheads.length, 1),
    maxConcurrency: Math.floor(LAMBDA_CONCURRENCY / s.job(trials[0]!).config.workers),
  };
}

/** The most trials (of the seed's sample) the forecast calls feasible within the budget. */
function trialsWithinBudget(s: Surface, sample: Values[], seed: number, budgetUsd: number): number {
  const feasible = (n: number) => forecastSweep(schedulerOptions(s, sample.slice(0, n), seed, { budgetUsd })).feasible;
  let low = 1;
  let high = sample.length;
  if (feasible(high)) return high;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (feasible(mid)) low = mid;
    else high = mid;
  }
  return low;
}

interface Running {
  job: Job;
  endS: number;
  outcome: JobOutcome;
}

function runAsha(s: Surface, seed: number, budgetUsd: number, gridSize: number, deadlineFactor: readonly [number, number]): SeedOutcome['asha'] {
  const sample = sampleTrials(s.params, 4 * gridSize, seed);
  const trials = sample.slice(0, trialsWithinBudget(s, sample, seed, budgetUsd));
  // The fastest the sweep could go: every trial at once (a 1 s deadline forces full concurrency).
  const fastest = forecastSweep(schedulerOptions(s, trials, seed, { budgetUsd, deadlineS: 1 }));
  const [low, high] = deadlineFactor;
  const f = low * (high / low) ** noiseUniform(seed, -3, 'deadline');
  const deadlineS = f * fastest.timeS.expected;
  const scheduler = new SweepScheduler(schedulerOptions(s, trials, seed, { budgetUsd, deadlineS }));
  const running: Running[] = [];
  let nowS = 0;
  let spentUsd = 0;
  let endS = 0;
  let jobs = 0;
  let stop = '';
  while (!stop) {
    for (let d = scheduler.decide(nowS, spentUsd); ; d = scheduler.decide(nowS, spentUsd)) {
      if (d.kind === 'stop') stop = d.why;
      if (d.kind !== 'run') break;
      const outcome = runJob(s, trials[d.job.trial]!, d.job.fromEpochs, d.job.toEpochs, seed);
      scheduler.started(d.job);
      running.push({ job: d.job, endS: nowS + outcome.timeS, outcome });
      jobs++;
    }
    if (stop) break;
    if (running.length === 0) throw new Error(`${s.name} seed ${seed}: the scheduler waits with nothing running`);
    running.sort((a, b) => a.endS - b.endS);
    const next = running.shift()!;
    nowS = next.endS;
    endS = Math.max(endS, next.endS);
    spentUsd += next.outcome.costUsd;
    scheduler.finished(next.job, next.outcome);
  }
  const best = scheduler.asha.best();
  const reached = (rung: number) => trials.filter((_, t) => scheduler.asha.trial(t).metrics.length > rung || scheduler.asha.trial(t).failed !== undefined).length;
  return {
    trials: trials.length,
    started: reached(0),
    atLastRung: reached(scheduler.options.asha.rungs.length - 1),
    concurrency: scheduler.concurrency,
    deadlineFactor: f,
    deadlineS,
    endS,
    spentUsd,
    stop,
    jobs,
    ...(best ? { pick: { values: trials[best.trial]!, trueFinal: trueMetric(s, trials[best.trial]!, s.maxEpochs, seed) } } : {}),
    gap: NaN,
  };
}

function runRandom(s: Surface, seed: number, budgetUsd: number): SeedOutcome['random'] {
  const random = mulberry32(seed ^ 0x2545f491);
  let spentUsd = 0;
  let trials = 0;
  let pick: { values: Values; observed: number } | undefined;
  // Bounded so a budget smaller than any trial cannot loop.
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const v = Object.fromEntries(s.params.map((p) => [p.name, valueAt(p.domain, random())]));
    const outcome = runJob(s, v, 0, s.maxEpochs, seed);
    if (spentUsd + outcome.costUsd > budgetUsd) break;
    spentUsd += outcome.costUsd;
    trials++;
    if (outcome.metric !== undefined && (!pick || outcome.metric > pick.observed)) pick = { values: v, observed: outcome.metric };
  }
  return { trials, spentUsd, ...(pick ? { pick: { values: pick.values, trueFinal: trueMetric(s, pick.values, s.maxEpochs, seed) } } : {}), gap: NaN };
}

function runSeed(s: Surface, seed: number, deadlineFactor: readonly [number, number]): SeedOutcome {
  const grid = runGrid(s, seed);
  const budgetUsd = grid.costUsd / 3;
  const asha = runAsha(s, seed, budgetUsd, grid.size, deadlineFactor);
  const random = runRandom(s, seed, budgetUsd);
  const gapOf = (pick?: Pick) => grid.bestTrue - (pick?.trueFinal ?? s.chance);
  return {
    surface: s.name,
    seed,
    gridUsd: grid.costUsd,
    budgetUsd,
    gridBest: grid.bestTrue,
    gridPickGap: grid.bestTrue - grid.pickTrue,
    asha: { ...asha, gap: gapOf(asha.pick) },
    random: { ...random, gap: gapOf(random.pick) },
  };
}

export interface WorkloadSummary {
  /** The grid's best true metric − the true metric of ASHA's pick: mean, p90, share of seeds ≤ 0.01. */
  ashaGapMean: number;
  ashaGapP90: number;
  ashaWithinGoal: number;
  /** ASHA's mean gap with a tight deadline (f < 2) and a loose one (f ≥ 2). */
  ashaGapTight: number;
  ashaGapLoose: number;
  randomGapMean: number;
  randomGapP90: number;
  randomWithinGoal: number;
  /** The grid's own pick (best observed, noisy) against its best true metric. */
  gridPickGapMean: number;
  /** ASHA's spend over the grid's cost: mean and max. */
  costVsGridMean: number;
  costVsGridMax: number;
  deadlineHitRate: number;
  budgetOverruns: number;
  /** Why ASHA's sweeps ended. */
  stops: Record<'done' | 'budget' | 'deadline', number>;
  meanTrials: number;
  meanStarted: number;
  meanAtLastRung: number;
  meanConcurrency: number;
  meanRandomTrials: number;
  runs: number;
}

export interface SweepBenchSummary extends WorkloadSummary {
  goals: { gap: boolean; cost: boolean; deadline: boolean; budget: boolean };
  goalsMet: boolean;
  workloads: Record<string, WorkloadSummary>;
  seconds: number;
}

const GAP_GOAL = 0.01;

export async function main(args: string[]): Promise<SweepBenchSummary> {
  const { values } = parseArgs({
    args,
    options: {
      json: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '200' },
      'first-seed': { type: 'string', default: '1' },
      workloads: { type: 'string' },
      'deadline-factor': { type: 'string', default: '1.25,4' },
    },
  });
  const started = performance.now();
  const seeds = Number(values.seeds);
  const first = Number(values['first-seed']);
  const [low, high] = values['deadline-factor'].split(',').map(Number);
  if (!(low! > 0 && high! >= low!)) throw new Error(`--deadline-factor is low,high with 0 < low ≤ high (got ${values['deadline-factor']})`);
  const names = values.workloads ? values.workloads.split(',') : SURFACES.map((s) => s.name);
  const outcomes: SeedOutcome[] = [];
  for (const name of names) {
    const surface = SURFACES.find((s) => s.name === name);
    if (!surface) throw new Error(`Unknown workload ${name}; choose among ${SURFACES.map((s) => s.name).join(', ')}`);
    for (let seed = first; seed < first + seeds; seed++) outcomes.push(runSeed(surface, seed, [low!, high!]));
  }
  const workloads = Object.fromEntries(names.map((name) => [name, summarise(outcomes.filter((o) => o.surface === name))]));
  const overall = summarise(outcomes);
  const perWorkload = Object.values(workloads);
  const goals = {
    gap: perWorkload.every((w) => w.ashaGapMean <= GAP_GOAL),
    cost: overall.costVsGridMax <= 1 / 3,
    deadline: overall.deadlineHitRate >= 0.99,
    budget: overall.budgetOverruns === 0,
  };
  const summary: SweepBenchSummary = {
    ...overall,
    goals,
    goalsMet: Object.values(goals).every(Boolean),
    workloads,
    seconds: (performance.now() - started) / 1000,
  };
  for (const name of names) process.stdout.write(`${name}: ${SURFACES.find((s) => s.name === name)!.description}\n`);
  printTable(
    `ASHA through SweepScheduler vs random search vs the full grid, one budget = grid cost / 3, simulated Lambda + S3 (${seeds} seeds per workload, deadline ${low}-${high} × the fastest forecast)`,
    [
      ['workload', 'seeds', 'ASHA trials/started/last rung', 'at once', 'ASHA gap mean/p90/≤0.01', 'gap f<2 / f≥2', 'cost/grid mean (max)', 'deadline hit', 'overruns', 'ended done/budget/deadline', 'random gap mean/p90/≤0.01 (trials)', 'grid pick gap'],
      ...names.map((name) => rowOf(name, workloads[name]!)),
      rowOf('all', overall),
    ],
  );
  const goal = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const worst = Math.max(...perWorkload.map((w) => w.ashaGapMean));
  process.stdout.write(
    [
      `ASHA gap to the grid's best (true metric): worst workload mean ${worst.toFixed(4)}; all: mean ${overall.ashaGapMean.toFixed(4)}, p90 ${overall.ashaGapP90.toFixed(4)}, ${pct(overall.ashaWithinGoal)} of seeds ≤ ${GAP_GOAL}  goal mean ≤ ${GAP_GOAL} on every workload: ${goal(goals.gap)}`,
      `random search gap, same budget:             all: mean ${overall.randomGapMean.toFixed(4)}, p90 ${overall.randomGapP90.toFixed(4)}, ${pct(overall.randomWithinGoal)} of seeds ≤ ${GAP_GOAL}`,
      `ASHA cost / grid cost:                      mean ${overall.costVsGridMean.toFixed(3)}, max ${overall.costVsGridMax.toFixed(3)}  goal ≤ 1/3: ${goal(goals.cost)}`,
      `deadline hit rate:                          ${pct(overall.deadlineHitRate)}  goal ≥ 99%: ${goal(goals.deadline)}`,
      `budget overruns:                            ${overall.budgetOverruns} of ${overall.runs}  goal 0: ${goal(goals.budget)}`,
      `goals: ${summary.goalsMet ? 'all met' : 'NOT all met'}; ${overall.runs} sweeps, ${summary.seconds.toFixed(1)} s`,
      '',
    ].join('\n'),
  );
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary;
}

function summarise(group: SeedOutcome[]): WorkloadSummary {
  const ashaGaps = group.map((o) => o.asha.gap);
  const randomGaps = group.map((o) => o.random.gap);
  const costRatios = group.map((o) => o.asha.spentUsd / o.gridUsd);
  const stops = { done: 0, budget: 0, deadline: 0 };
  for (const o of group) stops[o.asha.stop as keyof typeof stops]++;
  return {
    ashaGapMean: mean(ashaGaps),
    ashaGapP90: quantile(ashaGaps, 0.9),
    ashaWithinGoal: share(ashaGaps, (g) => g <= GAP_GOAL),
    ashaGapTight: mean(group.filter((o) => o.asha.deadlineFactor < 2).map((o) => o.asha.gap)),
    ashaGapLoose: mean(group.filter((o) => o.asha.deadlineFactor >= 2).map((o) => o.asha.gap)),
    randomGapMean: mean(randomGaps),
    randomGapP90: quantile(randomGaps, 0.9),
    randomWithinGoal: share(randomGaps, (g) => g <= GAP_GOAL),
    gridPickGapMean: mean(group.map((o) => o.gridPickGap)),
    costVsGridMean: mean(costRatios),
    costVsGridMax: Math.max(...costRatios),
    deadlineHitRate: share(group, (o) => o.asha.endS <= o.asha.deadlineS),
    budgetOverruns: group.filter((o) => o.asha.spentUsd > o.budgetUsd).length,
    stops,
    meanTrials: mean(group.map((o) => o.asha.trials)),
    meanStarted: mean(group.map((o) => o.asha.started)),
    meanAtLastRung: mean(group.map((o) => o.asha.atLastRung)),
    meanConcurrency: mean(group.map((o) => o.asha.concurrency)),
    meanRandomTrials: mean(group.map((o) => o.random.trials)),
    runs: group.length,
  };
}

function rowOf(name: string, s: WorkloadSummary): string[] {
  const gap = (m: number, p90: number, within: number) => `${m.toFixed(4)}/${p90.toFixed(4)}/${pct(within)}`;
  return [
    name,
    String(s.runs),
    `${s.meanTrials.toFixed(0)}/${s.meanStarted.toFixed(0)}/${s.meanAtLastRung.toFixed(1)}`,
    s.meanConcurrency.toFixed(1),
    gap(s.ashaGapMean, s.ashaGapP90, s.ashaWithinGoal),
    `${s.ashaGapTight.toFixed(4)} / ${s.ashaGapLoose.toFixed(4)}`,
    `${s.costVsGridMean.toFixed(3)} (${s.costVsGridMax.toFixed(3)})`,
    pct(s.deadlineHitRate),
    String(s.budgetOverruns),
    `${s.stops.done}/${s.stops.budget}/${s.stops.deadline}`,
    `${gap(s.randomGapMean, s.randomGapP90, s.randomWithinGoal)} (${s.meanRandomTrials.toFixed(1)})`,
    s.gridPickGapMean.toFixed(4),
  ];
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

function share<T>(values: T[], ok: (v: T) => boolean): number {
  return values.length ? values.filter(ok).length / values.length : NaN;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

function pct(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}

function printTable(title: string, rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(rows[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.slice(1).map(line).join('\n')}\n\n`);
}

/** One seed's whole outcome, for debugging a figure. */
export function debugSeed(workload: string, seed: number, deadlineFactor: readonly [number, number] = [1.25, 4]): SeedOutcome {
  const surface = SURFACES.find((s) => s.name === workload);
  if (!surface) throw new Error(`Unknown workload ${workload}`);
  return runSeed(surface, seed, deadlineFactor);
}

