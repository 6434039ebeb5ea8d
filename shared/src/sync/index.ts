/**
 * The aggregation strategies, chosen by the name a run's plan carries. A lone worker has nothing
 * to average with, whatever the strategy: its gradient is the mean and nothing goes through the
 * store, so there is nothing to replay either (a relaunched lone worker starts from a saved state).
 */
import { flat } from './flat.js';
import { hierarchical } from './hierarchical.js';
import { SmltError } from '../errors.js';
import { assertValidContext, type SyncName, type SyncStrategy } from './strategy.js';

function unlessAlone(strategy: SyncStrategy): SyncStrategy {
  return {
    name: strategy.name,
    async allReduce(ctx, iteration, gradient) {
      if (ctx.workers !== 1) return strategy.allReduce(ctx, iteration, gradient);
      assertValidContext(ctx, iteration);
      return { average: gradient, stats: { bytesWritten: 0, bytesRead: 0, puts: 0, gets: 0, waitMs: 0 } };
    },
    async readAverage(ctx, iteration) {
      if (ctx.workers !== 1) return strategy.readAverage(ctx, iteration);
      throw new SmltError('RUN_FAILED', `A lone worker publishes no averages: iteration ${iteration} cannot be replayed; restart it from a saved state.`);
    },
  };
}

const strategies: Record<SyncName, SyncStrategy> = { hierarchical: unlessAlone(hierarchical), flat: unlessAlone(flat) };

export function syncStrategy(name: SyncName): SyncStrategy {
  // The name arrives in a JSON worker event, so check it at run time too.
  if (!Object.hasOwn(strategies, name)) {
    throw new SmltError('OPTION_INVALID', `Unknown sync strategy ${JSON.stringify(name)}: use ${Object.keys(strategies).join(' or ')}.`);
  }
  return strategies[name];
}

export type { SyncContext, SyncName, SyncStats, SyncStrategy } from './strategy.js';
