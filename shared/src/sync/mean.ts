/**
 * The element-wise mean every strategy computes. Summed in float64 in the order given (rank
 * order 0..n-1), so a mean does not depend on which strategy, shard boundary or arrival order
 * produced it: every worker and every run gets the same bits.
 */
export function meanInRankOrder(parts: readonly Float32Array[]): Float32Array {
  const length = parts[0].length;
  const sum = new Float64Array(length);
  for (const part of parts) {
    for (let i = 0; i < length; i++) sum[i] += part[i];
  }
  const mean = new Float32Array(length);
  for (let i = 0; i < length; i++) mean[i] = sum[i] / parts.length;
  return mean;
}
