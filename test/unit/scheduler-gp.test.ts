/** The planner's Gaussian process and its linear algebra. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '@smlt/shared/data/order';
import { GaussianProcess, matern52 } from '@smlt/shared/scheduler/gp';
import { cholesky, choleskyExact, logDeterminant, solveCholesky } from '@smlt/shared/scheduler/linalg';
import { normalCdf, normalQuantile, NORMAL_QUADRATURE } from '@smlt/shared/scheduler/stats';

function multiply(lower: Float64Array, size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) for (let k = 0; k < size; k++) out[i * size + j] += lower[i * size + k] * lower[j * size + k];
  return out;
}

describe('Cholesky', () => {
  it('factorises a positive definite matrix exactly and solves with it', () => {
    const a = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    const chol = cholesky(a, 3);
    assert.equal(chol.jitter, 0);
    assert.deepEqual([...chol.lower], [2, 0, 0, 6, 1, 0, -8, 5, 3]);
    multiply(chol.lower, 3).forEach((v, i) => assert.ok(Math.abs(v - a[i]) < 1e-12));
    const x = solveCholesky(chol, [1, 2, 3]);
    const b = [0, 1, 2].map((i) => a[i * 3] * x[0] + a[i * 3 + 1] * x[1] + a[i * 3 + 2] * x[2]);
    b.forEach((v, i) => assert.ok(Math.abs(v - [1, 2, 3][i]) < 1e-9));
    assert.ok(Math.abs(logDeterminant(chol) - Math.log(36)) < 1e-9);
  });

  it('adds jitter to a near-singular matrix (two identical points, no noise) and still solves', () => {
    // Kernel matrix of points 0, 0, 1 with a smooth kernel: rows 1 and 2 are equal.
    const k = (a: number, b: number) => matern52(Math.abs(a - b));
    const xs = [0, 0, 1];
    const a = Float64Array.from(xs.flatMap((xi) => xs.map((xj) => k(xi, xj))));
    assert.equal(choleskyExact(a, 3), undefined);
    const chol = cholesky(a, 3);
    assert.ok(chol.jitter > 0 && chol.jitter <= 1e-2, `jitter ${chol.jitter}`);
    const x = solveCholesky(chol, [1, 1, 0.5]);
    assert.ok(x.every(Number.isFinite));
    // A x ≈ b up to the jitter.
    const residual = [0, 1, 2].map((i) => a[i * 3] * x[0] + a[i * 3 + 1] * x[1] + a[i * 3 + 2] * x[2] - [1, 1, 0.5][i]);
    assert.ok(Math.max(...residual.map(Math.abs)) < 1e-3, `residual ${residual}`);
  });

  it('throws on a matrix that is not positive semi-definite even with jitter', () => {
    assert.throws(() => cholesky(Float64Array.from([1, 0, 0, -1]), 2), /not positive semi-definite/);
  });
});

describe('Gaussian process', () => {
  it('has a Matérn 5/2 kernel: 1 at distance 0, decreasing', () => {
    assert.equal(matern52(0), 1);
    assert.ok(matern52(0.1) < 1 && matern52(0.5) < matern52(0.1) && matern52(4) < 0.01);
  });

  it('fits a known 1-D function and predicts it with sensible 90% intervals', () => {
    const f = (x: number) => Math.sin(6 * x) + 0.5 * x;
    const random = mulberry32(3);
    const noise = 0.05;
    const points = Array.from({ length: 14 }, (_, i) => {
      const x = i / 13;
      return { x: [x], y: f(x) + noise * (random() * 2 - 1) * Math.sqrt(3) };
    });
    const gp = GaussianProcess.fit(points, { dimensions: 1, priorMean: 'average' });
    let covered = 0;
    let worst = 0;
    for (let i = 0; i < 50; i++) {
      const x = 0.01 + (0.98 * i) / 49;
      const { mean, sd } = gp.predict([x]);
      const total = Math.hypot(sd, gp.hyperparameters.noiseSd);
      worst = Math.max(worst, Math.abs(mean - f(x)));
      if (Math.abs(mean - f(x)) <= 1.645 * total + noise) covered++;
    }
    assert.ok(worst < 0.15, `worst error ${worst}`);
    assert.ok(covered >= 45, `covered ${covered} of 50`);
    // Far from the data the GP admits it does not know: its sd grows back toward the prior's.
    const near = gp.predict([0.5]).sd;
    const far = gp.predict([3]).sd;
    assert.ok(far > 5 * near && Math.abs(far - gp.hyperparameters.signalSd) < 0.05 * gp.hyperparameters.signalSd, `near ${near}, far ${far}`);
    assert.ok(gp.hyperparameters.noiseSd < 0.2, `noise ${gp.hyperparameters.noiseSd}`);
  });

  it('fits a 2-D function of (log n, log m)-like inputs, with one length scale per input', () => {
    // Depends strongly on x0 and hardly on x1: the fitted length scale of x1 should be longer.
    const f = (x: number[]) => Math.cos(5 * x[0]) + 0.05 * x[1];
    const points = [];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) points.push({ x: [i / 4, j / 3], y: f([i / 4, j / 3]) });
    const gp = GaussianProcess.fit(points, { dimensions: 2, priorMean: 'average', priors: { minNoiseSd: 0.001, noiseSd: 0.01 } });
    const [l0, l1] = gp.hyperparameters.lengthScales;
    assert.ok(l1 > l0, `length scales ${l0}, ${l1}`);
    for (const x of [[0.1, 0.5], [0.6, 0.2], [0.9, 0.9]]) {
      const { mean, sd } = gp.predict(x);
      assert.ok(Math.abs(mean - f(x)) < 0.1 + 2 * sd, `at ${x}: ${mean} vs ${f(x)} (sd ${sd})`);
    }
  });

  it('is deterministic, and with no points returns its prior', () => {
    const points = [{ x: [0.2, 0.3], y: 0.1 }, { x: [0.25, 0.3], y: 0.12 }, { x: [0.8, 0.1], y: -0.2 }];
    const a = GaussianProcess.fit(points, { dimensions: 2 });
    const b = GaussianProcess.fit(points, { dimensions: 2 });
    assert.deepEqual(a.hyperparameters, b.hyperparameters);
    assert.deepEqual(a.predict([0.5, 0.5]), b.predict([0.5, 0.5]));
    const empty = GaussianProcess.fit([], { dimensions: 2, priors: { signalSd: 0.3 } });
    assert.deepEqual(empty.predict([0.1, 0.1]), { mean: 0, sd: 0.3 });
  });

  it('down-weights a point with extra noise', () => {
    const points = [{ x: [0.5], y: 1 }, { x: [0.5], y: 0, extraNoiseSd: 1 }];
    const gp = GaussianProcess.fit(points, { dimensions: 1, fixed: { lengthScales: [0.5], signalSd: 1, noiseSd: 0.05 } });
    assert.ok(gp.predict([0.5]).mean > 0.9);
  });
});

describe('normal helpers', () => {
  it('inverts the normal CDF and integrates moments exactly', () => {
    for (const p of [0.001, 0.05, 0.5, 0.9, 0.995]) assert.ok(Math.abs(normalCdf(normalQuantile(p)) - p) < 1e-6);
    assert.ok(Math.abs(normalQuantile(0.95) - 1.6448536) < 1e-6);
    const moment = (k: number) => NORMAL_QUADRATURE.reduce((a, [x, w]) => a + w * x ** k, 0);
    assert.ok(Math.abs(moment(0) - 1) < 1e-12 && Math.abs(moment(2) - 1) < 1e-12 && Math.abs(moment(4) - 3) < 1e-10);
  });
});
