/**
 * The baseline all-reduce: one aggregator (rank 0) reads every gradient, averages in rank
 * order and publishes the mean; everyone reads it. Rank 0 moves n times the gradient (n-1 reads
 * and one write; its own gradient stays in memory), the others 2x. It is hierarchical
 * aggregation with a single shard, so it shares the key layout with shard 0 as the only shard.
 */
import { Exchange } from './exchange.js';
import { meanKey, partKey } from './keys.js';
import { meanInRankOrder } from './mean.js';
import { assertValidContext, type SyncContext, type SyncStrategy } from './strategy.js';

const AGGREGATOR = 0;
const SHARD = 0;

export const flat: SyncStrategy = {
  name: 'flat',

  async allReduce(ctx: SyncContext, iteration: number, gradient: Float32Array) {
    assertValidContext(ctx, iteration);
    const { prefix, workers, rank } = ctx;
    const exchange = new Exchange(ctx);
    const mean = meanKey(prefix, 'flat', iteration, SHARD);
    let average: Float32Array;
    if (rank === AGGREGATOR) {
      average = await exchange.reuseOrPublish(mean, gradient.length, async () => {
        const senders = Array.from({ length: workers - 1 }, (_, i) => i + 1);
        const received = await exchange.gather(
          senders.map((j) => partKey(prefix, 'flat', iteration, SHARD, j)),
          () => gradient.length,
        );
        return meanInRankOrder([gradient, ...received]);
      });
    } else {
      await exchange.putAll([[partKey(prefix, 'flat', iteration, SHARD, rank), gradient]]);
      [average] = await exchange.gather([mean], () => gradient.length);
    }
    return { average, stats: exchange.stats };
  },

  async readAverage(ctx: SyncContext, iteration: number) {
    assertValidContext(ctx, iteration);
    const [average] = await new Exchange(ctx).gather([meanKey(ctx.prefix, 'flat', iteration, SHARD)], () => undefined);
    return average;
  },
};
