/**
 * SMLT's hierarchical aggregation (scatter-reduce through the store, DESIGN.md mechanism 2).
 * The flat gradient is cut into n contiguous shards; rank j aggregates shard j:
 *
 *   1. scatter  every rank writes shard j of its gradient for rank j (its own shard stays in memory)
 *   2. reduce   rank j waits for shard j from everyone, averages in rank order, publishes the mean
 *   3. gather   every rank reads the n-1 other means and concatenates them
 *
 * A rank moves (n-1)/n of the gradient in each of steps 1, 2 and 3 plus 1/n for its mean: under
 * 3x the gradient for any n (once the gradient has well over n² values, so shards are even),
 * where one aggregator would read n gradients.
 */
import { Exchange } from './exchange.js';
import { meanKey, partKey } from './keys.js';
import { meanInRankOrder } from './mean.js';
import { assertValidContext, type SyncContext, type SyncStrategy } from './strategy.js';

/**
 * Shard `shard` of `length` values cut `workers` ways: [start, end). Sizes differ by at most one
 * (so the busiest aggregator does no more than ⌈length/n⌉), and some are empty when length < n.
 */
export function shardBounds(length: number, workers: number, shard: number): [start: number, end: number] {
  return [Math.floor((shard * length) / workers), Math.floor(((shard + 1) * length) / workers)];
}

/**
 * The other ranks, starting next to `rank` and wrapping around. Each rank starts on a different
 * peer, so at any moment the requests fall on different shards (different key prefixes) and no
 * aggregator is the first target of everyone.
 */
function peersFrom(rank: number, workers: number): number[] {
  return Array.from({ length: workers - 1 }, (_, i) => (rank + 1 + i) % workers);
}

export const hierarchical: SyncStrategy = {
  name: 'hierarchical',

  async allReduce(ctx: SyncContext, iteration: number, gradient: Float32Array) {
    assertValidContext(ctx, iteration);
    const { prefix, workers, rank } = ctx;
    const exchange = new Exchange(ctx);
    const shard = (j: number): Float32Array => gradient.subarray(...shardBounds(gradient.length, workers, j));
    const own = shard(rank);
    const peers = peersFrom(rank, workers);

    const scatter = exchange.putAll(peers.map((j) => [partKey(prefix, 'hierarchical', iteration, j, rank), shard(j)] as const));
    // Reduce while the scatter is still writing: others' shards for this rank may already be there.
    const reduce = exchange.reuseOrPublish(meanKey(prefix, 'hierarchical', iteration, rank), own.length, async () => {
      // Rank-1 writes to this rank first, rank-2 second, ...: wait in that order.
      const senders = Array.from({ length: workers - 1 }, (_, i) => (rank - 1 - i + workers) % workers);
      const received = await exchange.gather(
        senders.map((j) => partKey(prefix, 'hierarchical', iteration, rank, j)),
        () => own.length,
      );
      const byRank = new Array<Float32Array>(workers);
      byRank[rank] = own;
      senders.forEach((j, i) => (byRank[j] = received[i]));
      return meanInRankOrder(byRank);
    });
    const [, ownMean] = await Promise.all([scatter, reduce]);

    const means = await exchange.gather(
      peers.map((j) => meanKey(prefix, 'hierarchical', iteration, j)),
      (i) => shard(peers[i]).length,
    );
    const average = new Float32Array(gradient.length);
    average.set(ownMean, shardBounds(gradient.length, workers, rank)[0]);
    peers.forEach((j, i) => average.set(means[i], shardBounds(gradient.length, workers, j)[0]));
    return { average, stats: exchange.stats };
  },

  async readAverage(ctx: SyncContext, iteration: number) {
    assertValidContext(ctx, iteration);
    const shards = Array.from({ length: ctx.workers }, (_, j) => meanKey(ctx.prefix, 'hierarchical', iteration, j));
    const means = await new Exchange(ctx).gather(shards, () => undefined);
    const average = new Float32Array(means.reduce((total, mean) => total + mean.length, 0));
    let offset = 0;
    for (const mean of means) {
      average.set(mean, offset);
      offset += mean.length;
    }
    return average;
  },
};
