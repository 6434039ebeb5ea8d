/**
 * Deterministic orders of samples. Seeded with a small 32-bit PRNG (mulberry32) so every
 * worker, on every platform, computes the same permutation from the same seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Fisher–Yates permutation of 0..count-1. */
export function permutation(count: number, seed: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const random = mulberry32(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * The order in which a worker visits its partition in `epoch`. The first epoch keeps the
 * partition's order (the dataset was shuffled once at capture), which makes an epoch on n
 * workers see exactly the same global batches as on one worker; later epochs reshuffle each
 * partition with the same permutation on every worker.
 */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  if (epoch === 0) return Uint32Array.from({ length: count }, (_, i) => i);
  return permutation(count, (Math.imul(seed, 1_000_003) + epoch) >>> 0);
}
