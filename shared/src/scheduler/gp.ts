/**
 * A Gaussian process regression on a handful of points: Matérn 5/2 kernel with one length scale
 * per input (ARD), a signal amplitude and a noise term, hyperparameters chosen by maximising the
 * log marginal likelihood plus weak log-normal priors (MAP: with 1-5 points plain maximum
 * likelihood is degenerate). The search is a deterministic coordinate ascent over log-spaced
 * grids, so the same points always give the same fit.
 *
 * Inputs should be scaled to roughly [0, 1] per dimension; the planner uses (log n, log m).
 */
import { type CholeskyResult, cholesky, logDeterminant, solveCholesky, solveLower } from './linalg.js';

export interface GpPoint {
  x: readonly number[];
  y: number;
  /** Extra noise of this point (sd), on top of the fitted noise: e.g. an observation made before drift. */
  extraNoiseSd?: number;
}

export interface GpHyperparameters {
  lengthScales: number[];
  signalSd: number;
  noiseSd: number;
}

export interface GpPriors {
  /** Medians of the log-normal priors; each has a log-sd of `logSd`. */
  lengthScale: number;
  signalSd: number;
  noiseSd: number;
  logSd: number;
  /** Floor on the noise sd (numerical and physical: epochs never repeat exactly). */
  minNoiseSd: number;
}

export const DEFAULT_GP_PRIORS: GpPriors = { lengthScale: 0.5, signalSd: 0.3, noiseSd: 0.05, logSd: 0.8, minNoiseSd: 0.005 };

export interface GpPrediction {
  mean: number;
  /** Sd of the latent function at x (epistemic); add `noiseSd` for a new noisy observation. */
  sd: number;
}

/** Matérn 5/2 correlation at scaled distance r. */
export function matern52(r: number): number {
  const s = Math.sqrt(5) * r;
  return (1 + s + (s * s) / 3) * Math.exp(-s);
}

export class GaussianProcess {
  private constructor(
    readonly points: readonly GpPoint[],
    readonly hyperparameters: GpHyperparameters,
    /** Constant prior mean the GP models deviations from. */
    readonly priorMean: number,
    private readonly chol: CholeskyResult | undefined,
    private readonly alpha: Float64Array,
    /** Log marginal likelihood of the points under the chosen hyperparameters. */
    readonly logMarginalLikelihood: number,
  ) {}

  /** Diagonal jitter the Cholesky needed (0 normally). */
  get jitter(): number {
    return this.chol?.jitter ?? 0;
  }

  /**
   * Fits hyperparameters (MAP) to `points` and conditions on them. `dimensions` is needed when
   * there are no points. `priorMean` is the constant mean (default 0: the planner models the
   * residual from an analytical model); pass 'average' to use the points' mean.
   */
  static fit(
    points: readonly GpPoint[],
    options: { dimensions: number; priors?: Partial<GpPriors>; priorMean?: number | 'average'; fixed?: GpHyperparameters },
  ): GaussianProcess {
    const priors = { ...DEFAULT_GP_PRIORS, ...options.priors };
    const mean =
      options.priorMean === 'average'
        ? points.reduce((a, p) => a + p.y, 0) / Math.max(points.length, 1)
        : (options.priorMean ?? 0);
    const start: GpHyperparameters = options.fixed ?? {
      lengthScales: Array.from({ length: options.dimensions }, () => priors.lengthScale),
      signalSd: priors.signalSd,
      noiseSd: Math.max(priors.noiseSd, priors.minNoiseSd),
    };
    const hyper = options.fixed || points.length === 0 ? start : maximiseMap(points, mean, start, priors);
    return GaussianProcess.condition(points, mean, hyper);
  }

  /** Conditions on `points` with given hyperparameters (no fitting). */
  static condition(points: readonly GpPoint[], priorMean: number, hyper: GpHyperparameters): GaussianProcess {
    if (points.length === 0) return new GaussianProcess(points, hyper, priorMean, undefined, new Float64Array(0), 0);
    const k = points.length;
    const matrix = kernelMatrix(points, hyper);
    const chol = cholesky(matrix, k);
    const residual = points.map((p) => p.y - priorMean);
    const alpha = solveCholesky(chol, residual);
    let fit = 0;
    for (let i = 0; i < k; i++) fit += residual[i] * alpha[i];
    const lml = -0.5 * fit - 0.5 * logDeterminant(chol) - 0.5 * k * Math.log(2 * Math.PI);
    return new GaussianProcess(points, hyper, priorMean, chol, alpha, lml);
  }

  predict(x: readonly number[]): GpPrediction {
    const { signalSd } = this.hyperparameters;
    if (!this.chol) return { mean: this.priorMean, sd: signalSd };
    const kStar = this.points.map((p) => signalSd * signalSd * matern52(scaledDistance(x, p.x, this.hyperparameters.lengthScales)));
    let mean = this.priorMean;
    for (let i = 0; i < kStar.length; i++) mean += kStar[i] * this.alpha[i];
    const v = solveLower(this.chol, kStar);
    let explained = 0;
    for (let i = 0; i < v.length; i++) explained += v[i] * v[i];
    return { mean, sd: Math.sqrt(Math.max(signalSd * signalSd - explained, 0)) };
  }
}

function scaledDistance(a: readonly number[], b: readonly number[], lengthScales: readonly number[]): number {
  let sum = 0;
  for (let d = 0; d < a.length; d++) {
    const diff = (a[d] - b[d]) / lengthScales[d];
    sum += diff * diff;
  }
  return Math.sqrt(sum);
}

function kernelMatrix(points: readonly GpPoint[], hyper: GpHyperparameters): Float64Array {
  const k = points.length;
  const matrix = new Float64Array(k * k);
  const s2 = hyper.signalSd * hyper.signalSd;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      const value = s2 * matern52(scaledDistance(points[i].x, points[j].x, hyper.lengthScales));
      matrix[i * k + j] = value;
      matrix[j * k + i] = value;
    }
    const extra = points[i].extraNoiseSd ?? 0;
    matrix[i * k + i] += hyper.noiseSd * hyper.noiseSd + extra * extra;
  }
  return matrix;
}

/** Log marginal likelihood + log priors; -Infinity when the kernel matrix cannot be factorised. */
function logPosterior(points: readonly GpPoint[], mean: number, hyper: GpHyperparameters, priors: GpPriors): number {
  let lml: number;
  try {
    lml = GaussianProcess.condition(points, mean, hyper).logMarginalLikelihood;
  } catch {
    return -Infinity;
  }
  const logPrior = (value: number, median: number) => {
    const z = Math.log(value / median) / priors.logSd;
    return -0.5 * z * z;
  };
  let prior = logPrior(hyper.signalSd, priors.signalSd) + logPrior(hyper.noiseSd, priors.noiseSd);
  for (const l of hyper.lengthScales) prior += logPrior(l, priors.lengthScale);
  return lml + prior;
}

/** Multipliers tried around the current value of each hyperparameter, per sweep. */
const STEPS = [0.25, 0.5, 0.71, 1, 1.41, 2, 4];
const SWEEPS = 3;

function maximiseMap(points: readonly GpPoint[], mean: number, start: GpHyperparameters, priors: GpPriors): GpHyperparameters {
  let best = { ...start, lengthScales: [...start.lengthScales] };
  let bestScore = logPosterior(points, mean, best, priors);
  const clampLength = (l: number) => Math.min(Math.max(l, 0.02), 20);
  const clampSignal = (s: number) => Math.min(Math.max(s, 1e-3), 20);
  const clampNoise = (s: number) => Math.min(Math.max(s, priors.minNoiseSd), 5);
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    let improved = false;
    const coordinates = best.lengthScales.length + 2;
    for (let c = 0; c < coordinates; c++) {
      const base = best;
      for (const step of STEPS) {
        if (step === 1) continue;
        const candidate = { ...base, lengthScales: [...base.lengthScales] };
        if (c < base.lengthScales.length) candidate.lengthScales[c] = clampLength(base.lengthScales[c] * step);
        else if (c === base.lengthScales.length) candidate.signalSd = clampSignal(base.signalSd * step);
        else candidate.noiseSd = clampNoise(base.noiseSd * step);
        const score = logPosterior(points, mean, candidate, priors);
        if (score > bestScore + 1e-9) {
          best = candidate;
          bestScore = score;
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
  return best;
}
