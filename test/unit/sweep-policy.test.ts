/**
 * The design sweep's pure policy: the search space (space.ts), ASHA (asha.ts) and the sweep
 * scheduler and forecast (scheduler.ts), on what a user relies on: every choice tried, values
 * inside their ranges, bad ranges named, the best trials promoted, the budget never passed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '@smlt/shared/data/order';
import { isSmltError } from '@smlt/shared/errors';
import { type Param, floatDomain, gridTrials, intDomain, parseDomain, sampleTrials } from '@smlt/shared/capture/search-space';
import { Asha, type AshaOptions, type Job, rungsFor } from '@smlt/shared/sweep/asha';
import { type EpochPrice, type SweepSchedulerOptions, SweepScheduler, forecastSweep } from '@smlt/shared/sweep/scheduler';

const param = (name: string, domain: unknown): Param => ({ name, domain: parseDomain(domain, name) });

describe('rungsFor', () => {
  it('anchors the rungs at the last epoch, each eta times the one before', () => {
    assert.deepEqual(rungsFor(1, 10, 3), [1, 3, 10]);
    assert.deepEqual(rungsFor(1, 9, 3), [1, 3, 9]);
    assert.deepEqual(rungsFor(1, 27, 3), [1, 3, 9, 27]);
    assert.deepEqual(rungsFor(1, 2, 3), [2], 'fewer epochs than eta: one rung, the whole run');
  });
});

describe('sampleTrials', () => {
  const units = param('units', [32, 64, 128]);
  const learningRate = param('learningRate', { log: [1e-4, 0.1] });

  it('tries every value of a 3-choice parameter in 3 trials when it is the only one', () => {
    for (let seed = 0; seed < 50; seed++) {
      assert.deepEqual(new Set(sampleTrials([units], 3, seed).map((v) => v.units)), new Set([32, 64, 128]), `seed ${seed}`);
    }
  });

  // Stratified per parameter: a choice of 3 values meets each in 3 trials, whatever else varies.
  it('tries every value of a 3-choice parameter in 3 trials when it is the only one', () => {
    for (let seed = 0; seed < 50; seed++) {
      assert.deepEqual(new Set(sampleTrials([units], 3, seed).map((v) => v.units)), new Set([32, 64, 128]), `seed ${seed}`);
    }
  });

  // Fails today: the Halton index starts at 1 and a choice's dimension uses its prime base (2 for the
  // first parameter), not its number of values, so 3 trials stratify it into thirds only by chance.
  // In 1,000 seeds: choice first 48 % miss a value, second 32 %, third 79 %.
  it('tries every value of a 3-choice parameter in 3 trials beside other parameters', () => {
    const spaces = [
      [units, learningRate],
      [learningRate, units],
      [learningRate, param('dropout', { float: [0, 0.5] }), units],
    ];
    for (const params of spaces) {
      for (let seed = 0; seed < 50; seed++) {
        const seen = new Set(sampleTrials(params, 3, seed).map((v) => v.units));
        assert.equal(seen.size, 3, `${params.map((p) => p.name).join(', ')}, seed ${seed}: only ${[...seen].join(', ')}`);
      }
    }
  });

  it('stays inside float, log and int ranges, on the int step', () => {
    const params: Param[] = [
      { name: 'dropout', domain: floatDomain(0.1, 0.5, { log: false }, 'dropout') },
      { name: 'learningRate', domain: floatDomain(1e-5, 1e-1, { log: true }, 'learningRate') },
      { name: 'layers', domain: intDomain(2, 10, { log: false, step: 2 }, 'layers') },
      { name: 'units', domain: intDomain(8, 1024, { log: true, step: 1 }, 'units') },
    ];
    const trials = sampleTrials(params, 200, 7);
    assert.equal(trials.length, 200);
    for (const v of trials) {
      const [dropout, learningRate, layers, unitCount] = [v.dropout, v.learningRate, v.layers, v.units] as number[];
      assert.ok(dropout! >= 0.1 && dropout! <= 0.5, `dropout ${dropout}`);
      assert.ok(learningRate! >= 1e-5 && learningRate! <= 1e-1, `learningRate ${learningRate}`);
      assert.ok(Number.isInteger(layers) && layers! >= 2 && layers! <= 10 && layers! % 2 === 0, `layers ${layers}`);
      assert.ok(Number.isInteger(unitCount) && unitCount! >= 8 && unitCount! <= 1024, `units ${unitCount}`);
    }
    // A log scale spreads over the decades: about a quarter of 200 draws in each of 1e-5..1e-4, ..., 1e-2..1e-1.
    const decades = [0, 0, 0, 0];
    for (const v of trials) decades[Math.min(3, Math.floor(Math.log10((v.learningRate as number) / 1e-5)))]!++;
    for (const n of decades) assert.ok(n >= 35 && n <= 65, `per decade: ${decades.join(', ')}`);
  });

  it('draws each setting once in a small discrete space, and no more than there are', () => {
    const params = [units, param('batchSize', [16, 64])];
    const trials = sampleTrials(params, 20, 3);
    assert.equal(trials.length, 6);
    assert.equal(new Set(trials.map((v) => JSON.stringify(v))).size, 6);
  });

  it('is deterministic per seed, and the seed matters', () => {
    const params = [units, learningRate];
    assert.deepEqual(sampleTrials(params, 8, 11), sampleTrials(params, 8, 11));
    assert.notDeepEqual(sampleTrials(params, 8, 11), sampleTrials(params, 8, 12));
  });
});

describe('gridTrials', () => {
  it('takes every combination: points per range × choices × an int range\'s values', () => {
    const params = [param('learningRate', { log: [1e-4, 0.1] }), param('units', [32, 64, 128]), param('layers', { int: [1, 2] })];
    const grid = gridTrials(params, 3);
    assert.equal(grid.length, 3 * 3 * 2);
    assert.equal(new Set(grid.map((v) => JSON.stringify(v))).size, grid.length);
    assert.deepEqual(new Set(grid.map((v) => v.layers)), new Set([1, 2]));
  });
});

describe('parseDomain', () => {
  const rejects = (value: unknown, field: string, pattern: RegExp) =>
    assert.throws(
      () => parseDomain(value, field),
      (err) => isSmltError(err, 'SWEEP_INVALID') && err.message.startsWith(`${field}:`) && pattern.test(err.message),
    );

  it('reads a list as a choice and names the kind of a range', () => {
    assert.deepEqual(parseDomain([32, 64], 'units'), { kind: 'choice', values: [32, 64] });
    assert.deepEqual(parseDomain({ log: [1e-4, 0.1] }, 'learningRate'), { kind: 'float', min: 1e-4, max: 0.1, log: true });
    assert.deepEqual(parseDomain({ int: [1, 4] }, 'layers'), { kind: 'int', min: 1, max: 4, log: false, step: 1 });
  });

  it('rejects bad ranges with SWEEP_INVALID, naming the field', () => {
    rejects({ float: [0.5, 0.5] }, 'dropout', /empty/);
    rejects({ float: [0.5, 0.1] }, 'dropout', /empty/);
    rejects({ log: [0, 0.1] }, 'learningRate', /above 0/);
    rejects({ log: [-1, 0.1] }, 'learningRate', /above 0/);
    rejects([], 'units', /at least one value/);
    rejects({ choice: [] }, 'units', /at least one value/);
    rejects({ float: ['0', 1] }, 'dropout', /two numbers/);
    rejects({ int: [1] }, 'layers', /two numbers/);
    rejects({ int: [1.5, 4] }, 'layers', /whole numbers/);
    rejects('fast', 'optimizer', /not a search range/);
  });
});

/** Starts every trial's first rung, as a runner with room for all would. */
function startAll(asha: Asha): Job[] {
  const jobs: Job[] = [];
  for (let job = asha.next(); job; job = asha.next()) {
    asha.started(job);
    jobs.push(job);
  }
  return jobs;
}

describe('Asha', () => {
  const options = (direction: AshaOptions['direction'] = 'maximize'): AshaOptions => ({ trials: 9, rungs: [1, 3, 9], eta: 3, direction });
  // Trial i's accuracy at the first rung; the best three are trials 4, 7 and 1.
  const firstRung = [0.5, 0.8, 0.3, 0.45, 0.95, 0.6, 0.2, 0.9, 0.7];

  it('promotes exactly the best 1/eta of a finished rung, best first', () => {
    const asha = new Asha(options());
    assert.deepEqual(startAll(asha).map((j) => j.trial), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    firstRung.forEach((metric, trial) => asha.completed(trial, 0, metric));
    const promoted = startAll(asha);
    assert.deepEqual(promoted.map((j) => j.trial), [4, 7, 1]);
    for (const job of promoted) assert.deepEqual({ ...job, trial: 0 }, { trial: 0, rung: 1, fromEpochs: 1, toEpochs: 3, kind: 'promote' });
    assert.equal(asha.next(), undefined, 'nothing more until a promoted trial finishes');
  });

  it('promotes the lowest when minimizing', () => {
    const asha = new Asha(options('minimize'));
    startAll(asha);
    firstRung.forEach((metric, trial) => asha.completed(trial, 0, metric));
    assert.deepEqual(startAll(asha).map((j) => j.trial), [6, 2, 3]);
  });

  it('promotes asynchronously: the best of the first three finished goes on before the rest finish', () => {
    const asha = new Asha(options());
    startAll(asha);
    [0, 1, 2].forEach((trial) => asha.completed(trial, 0, firstRung[trial]!));
    assert.deepEqual(asha.next(), { trial: 1, rung: 1, fromEpochs: 1, toEpochs: 3, kind: 'promote' });
  });

  it('never promotes a failed trial, nor picks it as the best', () => {
    const asha = new Asha(options());
    startAll(asha);
    asha.failed(4, 'the loss turned NaN');
    firstRung.forEach((metric, trial) => trial !== 4 && asha.completed(trial, 0, metric));
    const promoted = startAll(asha).map((j) => j.trial);
    assert.ok(!promoted.includes(4));
    // Eight finished the rung: the best two of them.
    assert.deepEqual(promoted, [7, 1]);
    // A promoted trial that fails is not promoted again, and the best is among the others.
    asha.failed(7, 'out of memory');
    asha.completed(1, 1, 0.85);
    assert.equal(asha.trial(7).failed, 'out of memory');
    assert.equal(asha.best()?.trial, 1);
    for (let job = asha.next(); job; job = asha.next()) {
      assert.notEqual(job.trial, 7);
      asha.started(job);
    }
  });

  it('picks the best among the trials trained furthest, not a stopped trial with a lucky first epoch', () => {
    const asha = new Asha(options());
    startAll(asha);
    firstRung.forEach((metric, trial) => asha.completed(trial, 0, metric));
    assert.equal(asha.best()?.trial, 4, 'after the first rung: its best');
    startAll(asha);
    asha.completed(7, 1, 0.93);
    asha.completed(1, 1, 0.91);
    // Trial 4 (0.95 after 1 epoch) has not finished rung 2 yet: 7 leads with 0.93 after 3 epochs.
    assert.deepEqual(asha.best(), { trial: 7, rung: 1, metric: 0.93 });
  });

  it('lets an interrupted trial be picked again', () => {
    const asha = new Asha(options());
    const [first] = startAll(asha);
    asha.interrupted(first!.trial);
    assert.deepEqual(asha.next(), first);
  });

  it('round-trips its state: a new Asha from the state gives the same next job and best', () => {
    const asha = new Asha(options());
    startAll(asha);
    firstRung.forEach((metric, trial) => asha.completed(trial, 0, metric));
    asha.started(asha.next()!);
    const state = JSON.parse(JSON.stringify(asha.state()));
    const resumed = new Asha(options(), state);
    assert.deepEqual(resumed.next(), asha.next());
    assert.deepEqual(resumed.best(), asha.best());
    assert.equal(resumed.running, asha.running);
    // A copy, not a view: what the resumed one records does not change the saved state.
    resumed.completed(4, 1, 0.99);
    assert.deepEqual(state.trials[4].metrics, [0.95]);
  });
});

const flatPrice: EpochPrice = { timeS: 10, costUsd: 1, highRatio: 1.5 };

function sweepOptions(over: Partial<SweepSchedulerOptions> = {}, asha: Partial<AshaOptions> = {}): SweepSchedulerOptions {
  return {
    asha: { trials: 9, rungs: [1, 3, 9], eta: 3, direction: 'maximize', ...asha },
    constraints: {},
    priceOf: () => flatPrice,
    jobOverheadS: 2,
    maxConcurrency: 100,
    ...over,
  };
}

describe('SweepScheduler', () => {
  it('stops with why budget before a job whose pessimistic price passes the budget', () => {
    // An epoch is expected at $1 and could cost $1.5: $1.4 covers the expectation, not the bound.
    const tight = new SweepScheduler(sweepOptions({ constraints: { budgetUsd: 1.4 } }));
    const decision = tight.decide(0, 0);
    assert.equal(decision.kind, 'stop');
    assert.equal(decision.kind === 'stop' && decision.why, 'budget');
    assert.match(decision.reason, /\$1\.5.*\$1\.4/);
    const enough = new SweepScheduler(sweepOptions({ constraints: { budgetUsd: 1.6 } }));
    assert.equal(enough.decide(0, 0).kind, 'run');
  });

  it('stops with why deadline before a job that could end after it', () => {
    // One epoch could take 10 × 1.5 + 2 s of overhead = 17 s.
    const scheduler = new SweepScheduler(sweepOptions({ constraints: { deadlineS: 16 } }));
    const decision = scheduler.decide(0, 0);
    assert.equal(decision.kind === 'stop' && decision.why, 'deadline');
  });

  it('never lets spend pass the budget, with jobs in parallel and real costs off the prediction', () => {
    const stops: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const random = mulberry32(seed);
      // Each trial really costs 0.8-1.4 × its prediction (within the 1.5 bound), its model 1-4 × the base.
      const size = Array.from({ length: 27 }, () => 1 + 3 * random());
      const budgetUsd = 20 + 40 * random();
      const scheduler = new SweepScheduler(
        sweepOptions({ constraints: { budgetUsd, deadlineS: 400 }, priceOf: (t) => ({ ...flatPrice, timeS: 10 * size[t]!, costUsd: size[t]! }) }, { trials: 27, rungs: [1, 3, 9] }),
      );
      assert.ok(scheduler.concurrency > 1, 'the deadline makes trials run at once');
      const running: Array<{ job: Job; endS: number; costUsd: number; epochs: number }> = [];
      let nowS = 0;
      let spentUsd = 0;
      for (let events = 0; events < 1000; events++) {
        let decision = scheduler.decide(nowS, spentUsd);
        for (; decision.kind === 'run'; decision = scheduler.decide(nowS, spentUsd)) {
          const epochs = decision.job.toEpochs - decision.job.fromEpochs;
          const costUsd = epochs * size[decision.job.trial]! * (0.8 + 0.6 * random());
          scheduler.started(decision.job);
          running.push({ job: decision.job, endS: nowS + epochs * 10 * size[decision.job.trial]!, costUsd, epochs });
        }
        if (decision.kind === 'stop') {
          stops.push(decision.why);
          break;
        }
        running.sort((a, b) => a.endS - b.endS);
        const done = running.shift()!;
        nowS = done.endS;
        spentUsd += done.costUsd;
        scheduler.finished(done.job, { metric: random(), timeS: done.endS, costUsd: done.costUsd, epochs: done.epochs });
      }
      assert.equal(running.length, 0, `seed ${seed}: stopped with jobs running`);
      assert.ok(spentUsd <= budgetUsd, `seed ${seed}: spent $${spentUsd} of $${budgetUsd}`);
    }
    // The whole plan would cost about $150: the budget, not the deadline, is what stops most of them.
    assert.ok(stops.filter((why) => why === 'budget').length >= 10, `stops: ${stops.join(', ')}`);
  });

  it('calibrates: a trial measured twice as dear raises the price of the next', () => {
    const scheduler = new SweepScheduler(sweepOptions());
    const before = scheduler.price(1);
    const decision = scheduler.decide(0, 0);
    assert.equal(decision.kind, 'run');
    if (decision.kind !== 'run') return;
    scheduler.started(decision.job);
    scheduler.finished(decision.job, { metric: 0.5, timeS: 2 + 20, costUsd: 2, epochs: 1 });
    const after = scheduler.price(1);
    assert.ok(Math.abs(after.costUsd / before.costUsd - 2) < 1e-9, `cost ${before.costUsd} → ${after.costUsd}`);
    assert.ok(Math.abs(after.timeS / before.timeS - 2) < 1e-9, `time ${before.timeS} → ${after.timeS}`);
  });

  it('waits while as many trials train as run at once', () => {
    // One at a time the sweep could take 354 s (pessimistic); its best trial's 9 epochs alone 144 s.
    const scheduler = new SweepScheduler(sweepOptions({ constraints: { deadlineS: 250 } }));
    assert.ok(scheduler.concurrency > 1 && scheduler.concurrency < 9, `concurrency ${scheduler.concurrency}`);
    for (let i = 0; i < scheduler.concurrency; i++) {
      const decision = scheduler.decide(0, 0);
      assert.equal(decision.kind, 'run');
      if (decision.kind === 'run') scheduler.started(decision.job);
    }
    const full = scheduler.decide(0, 0);
    assert.equal(full.kind, 'wait');
    assert.equal(full.kind === 'wait' && full.busy, true);
    assert.match(full.reason, new RegExp(`${scheduler.concurrency} of ${scheduler.concurrency} trials`));
  });
});

describe('forecastSweep', () => {
  it('advises a number of trials that fits when the budget is too small', () => {
    // 27 trials to 9 epochs: 27 + 9 × 2 + 3 × 6 = 63 trial-epochs at $1.
    const options = sweepOptions({ constraints: { budgetUsd: 30 } }, { trials: 27 });
    const forecast = forecastSweep(options);
    assert.equal(forecast.feasible, false);
    assert.equal(forecast.costUsd.expected, 63);
    const advised = Number(/at most (\d+) trials/.exec(forecast.advice ?? '')?.[1]);
    assert.ok(advised > 0 && advised < 27, forecast.advice);
    const fits = (trials: number) => forecastSweep({ ...options, asha: { ...options.asha, trials } }).feasible;
    assert.ok(fits(advised), `${advised} trials should fit: ${forecast.advice}`);
    assert.ok(!fits(advised + 1), `${advised} should be the most that fit`);
    assert.match(forecast.advice!, /a budget of at least \$63/);
  });

  it('raises the concurrency to meet a deadline, and says so when none can', () => {
    const alone = forecastSweep(sweepOptions());
    assert.equal(alone.concurrency, 1);
    const deadlineS = 0.7 * alone.timeS.high;
    const hurried = forecastSweep(sweepOptions({ constraints: { deadlineS } }));
    assert.ok(hurried.concurrency > 1);
    assert.ok(hurried.feasible);
    assert.ok(hurried.timeS.high <= deadlineS, `${hurried.timeS.high} s over ${deadlineS} s`);
    // The best trial's 9 epochs alone take 90 s: no concurrency meets 60 s.
    const impossible = forecastSweep(sweepOptions({ constraints: { deadlineS: 60 } }));
    assert.equal(impossible.feasible, false);
    assert.match(impossible.advice!, /a deadline of at least \d+ s/);
  });
});
