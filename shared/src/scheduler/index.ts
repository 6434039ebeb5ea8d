/**
 * The adaptive scheduler (DESIGN.md, "Adaptive scheduler", "Deadlines and budgets", "The
 * scheduler's problem, stated"). Pure: no I/O, no Date.now, no Math.random; the clock and the
 * random source are injected, so the same inputs give the same decisions.
 *
 * ## Use
 *
 *   const planner = createPlanner({
 *     model: { paramCount, bytesPerSample, optimizer: 'adam', computeMsPerSample },   // profiler estimate
 *     workload: { samplesPerEpoch, epochs, batchSize: 512 },            // or (epoch) => batch size
 *     platform: { backend: 'wasm-simd', timeLimitMs: 900_000, prices: PRICE_TABLES['lambda-x86_64'] },
 *     constraints: { deadlineS: 3600, budgetUsd: 5, objective: 'cost' },
 *     random: mulberry32(seed), now: () => clock(),
 *   });
 *   planner.estimate();                 // before launch: time and cost with intervals, feasible?, advice
 *   for (;;) {
 *     const d = planner.next();         // { action: 'run' | 'stop', workers, memoryMb, sync, reason, predicted… }
 *     if (d.action === 'stop') break;   // all epochs done, or the budget guard
 *     … run epoch d.epoch with d.workers × d.memoryMb …
 *     planner.observe(observationFromRecord(record, d.batchSize, workerFinishedEvents, requests));
 *   }
 *   planner.explain();                  // the last decision: observations, GP predictions with
 *                                       // intervals for chosen and runner-up, binding constraint, reason
 *
 * For the orchestrator's hook: `planEpoch(epoch, previous)` = observe the records not yet seen,
 * then `next()`; `{ workers, memoryMb, reason }` come straight from the decision.
 *
 * ## How it decides (each `next()`)
 *
 * 1. Calibrate the analytical model (analytical.ts: compute ∝ batch / speed-up(backend, memory);
 *    sync from request rounds with S3's latency order statistics and long tail, bytes through the
 *    burst bucket and ≈75 MiB/s, the store's request-rate floor; per-epoch launch, state and
 *    continuation overheads) with one factor each for compute, sync, overhead, polls and cost.
 * 2. Fit a GP (gp.ts: Matérn 5/2, ARD, noise, MAP hyperparameters) per sync strategy to the
 *    residual log(observed iteration time / calibrated model) over (log n, log m). Observations
 *    made before a detected drift (> 20% off a prediction the GP was sure of) are down-weighted;
 *    one-step-ahead errors at known configurations give the epoch-to-epoch noise.
 * 3. Group the remaining epochs into phases of equal batch size (a growing batch makes several;
 *    before the first observation the first epoch stands alone). Candidates per phase: n | batch
 *    up to maxWorkers, memory sizes from sizing for the backend above the footprint's minimum,
 *    an iteration well inside the time limit; each with predicted time and cost at the requested
 *    confidence (the current phase with the GP's whole uncertainty, later phases with half).
 * 4. Choose one candidate per phase (a fixed allocation within a phase, re-planned every epoch,
 *    so risk is never deferred to the end of the job): minimise the expected objective (with a 5%
 *    tie-break toward the other quantity) subject to Σ time ≤ deadline left (less 2%) and
 *    Σ cost ≤ budget left, by a Lagrangian scan then single-phase swaps. If that fails, relax the
 *    margin (half, then none) and report infeasible with advice: the budget the deadline needs, or
 *    the earliest deadline the budget allows.
 * 5. Probe: for each other candidate of this epoch, the expected improvement over the rest of the
 *    job if it turned out better (GP posterior, 7-point quadrature) minus its expected extra cost
 *    this epoch; run the best when the net gain exceeds 1% of the rest and probes are left.
 * 6. Budget guard: if the next epoch could (99.5% bound, and 10% more) take the spend over the
 *    budget, take the best configuration that fits, or stop (`stop: 'budget'`).
 *
 * `estimate()` reports the expected outcome of this adaptive policy (the plan it would follow
 * once the configurations it uses are known), with a 90% interval that also spans the committed,
 * more cautious plan; `plan` is the committed plan.
 */
export { createPlanner, type Planner } from './planner.js';
export { divisors, iterationsOf } from './candidates.js';
export { budgetGuard, type BudgetGuardInput, type BudgetGuardVerdict } from './guard.js';
export { AnalyticalModel, DEFAULT_NETWORK, type Calibration, type Config, type StoreNetworkModel } from './analytical.js';
export { GaussianProcess, matern52, type GpHyperparameters, type GpPoint, type GpPrediction } from './gp.js';
export { cholesky, solveCholesky } from './linalg.js';
export type * from './types.js';
