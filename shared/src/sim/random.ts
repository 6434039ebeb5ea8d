/**
 * Seeded randomness for the simulator. Two kinds:
 *  - `Rng`: a sequential stream (mulberry32) for Monte Carlo profiles;
 *  - `noiseUniform(seed, epoch, channel)`: a hash of its arguments, so every configuration run
 *    with the same seed sees the same noise in the same epoch ("common random numbers"): the
 *    hindsight oracle and the planner face the same weather, failures and drift.
 */
import { mulberry32 } from '../data/order.js';
import { normalQuantile } from '../scheduler/stats.js';

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Uniform in (0, 1), never exactly 0. */
  uniform(): number {
    return (this.next() * 4294967295 + 0.5) / 4294967296;
  }
  normal(): number {
    return normalQuantile(this.uniform());
  }
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
}

/** FNV-1a over the 32-bit words of the arguments, finalised with a murmur3 mix; a uniform in (0, 1). */
export function noiseUniform(seed: number, epoch: number, channel: string): number {
  let h = 0x811c9dc5;
  const mix = (word: number) => {
    for (let i = 0; i < 4; i++) {
      h ^= (word >>> (8 * i)) & 0xff;
      h = Math.imul(h, 0x01000193);
    }
  };
  mix(seed | 0);
  mix(epoch | 0);
  for (let i = 0; i < channel.length; i++) mix(channel.charCodeAt(i));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) + 0.5) / 4294967296;
}

export function noiseNormal(seed: number, epoch: number, channel: string): number {
  return normalQuantile(noiseUniform(seed, epoch, channel));
}

/** Poisson quantile at u (inverse CDF by summation; means here are small). */
export function poissonQuantile(mean: number, u: number): number {
  if (!(mean > 0)) return 0;
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normalQuantile(u)));
  let k = 0;
  let p = Math.exp(-mean);
  let cdf = p;
  while (u > cdf && k < 1000) {
    k++;
    p *= mean / k;
    cdf += p;
  }
  return k;
}
