/**
 * The little dense linear algebra a Gaussian process on a few dozen points needs: a Cholesky
 * factorisation that adds diagonal jitter when the matrix is (numerically) not positive
 * definite, and triangular solves. Matrices are row-major Float64Arrays of size k × k; at this
 * size a library (ml-matrix) would buy nothing but a dependency.
 */

export interface CholeskyResult {
  /** Lower-triangular L, row-major, with L Lᵀ = A + jitter·I. */
  lower: Float64Array;
  size: number;
  /** Diagonal jitter that had to be added (0 when A was positive definite as given). */
  jitter: number;
}

/** Plain Cholesky; undefined when a pivot is not positive (A not positive definite). */
export function choleskyExact(matrix: Float64Array, size: number, jitter = 0): Float64Array | undefined {
  const lower = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * size + j] + (i === j ? jitter : 0);
      for (let k = 0; k < j; k++) sum -= lower[i * size + k] * lower[j * size + k];
      if (i === j) {
        if (!(sum > 0) || !Number.isFinite(sum)) return undefined;
        lower[i * size + i] = Math.sqrt(sum);
      } else {
        lower[i * size + j] = sum / lower[j * size + j];
      }
    }
  }
  return lower;
}

/**
 * Cholesky of a symmetric positive semi-definite matrix, adding jitter 1e-10, 1e-9, … up to
 * 1e-2 times the mean diagonal until it factorises (two identical points make a GP's kernel
 * matrix singular without a noise term). Throws when even the largest jitter fails.
 */
export function cholesky(matrix: Float64Array, size: number): CholeskyResult {
  const exact = choleskyExact(matrix, size);
  if (exact) return { lower: exact, size, jitter: 0 };
  let meanDiagonal = 0;
  for (let i = 0; i < size; i++) meanDiagonal += Math.abs(matrix[i * size + i]);
  meanDiagonal = Math.max(meanDiagonal / Math.max(size, 1), Number.MIN_VALUE);
  for (let exponent = -10; exponent <= -2; exponent++) {
    const jitter = meanDiagonal * 10 ** exponent;
    const lower = choleskyExact(matrix, size, jitter);
    if (lower) return { lower, size, jitter };
  }
  throw new Error(`Cholesky failed: the ${size}×${size} matrix is not positive semi-definite even with jitter.`);
}

/** Solves L x = b (forward substitution). */
export function solveLower(chol: CholeskyResult, b: ArrayLike<number>): Float64Array {
  const { lower, size } = chol;
  const x = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= lower[i * size + k] * x[k];
    x[i] = sum / lower[i * size + i];
  }
  return x;
}

/** Solves Lᵀ x = b (back substitution). */
export function solveUpper(chol: CholeskyResult, b: ArrayLike<number>): Float64Array {
  const { lower, size } = chol;
  const x = new Float64Array(size);
  for (let i = size - 1; i >= 0; i--) {
    let sum = b[i];
    for (let k = i + 1; k < size; k++) sum -= lower[k * size + i] * x[k];
    x[i] = sum / lower[i * size + i];
  }
  return x;
}

/** Solves (L Lᵀ) x = b. */
export function solveCholesky(chol: CholeskyResult, b: ArrayLike<number>): Float64Array {
  return solveUpper(chol, solveLower(chol, b));
}

/** log det(L Lᵀ) = 2 Σ log L_ii. */
export function logDeterminant(chol: CholeskyResult): number {
  let sum = 0;
  for (let i = 0; i < chol.size; i++) sum += Math.log(chol.lower[i * chol.size + i]);
  return 2 * sum;
}
