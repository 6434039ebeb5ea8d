/** The aggregation strategies, chosen by the name a run's plan carries. */
import { flat } from './flat.js';
import { hierarchical } from './hierarchical.js';
import { SmltError } from '../errors.js';
import type { SyncName, SyncStrategy } from './strategy.js';

const strategies: Record<SyncName, SyncStrategy> = { hierarchical, flat };

export function syncStrategy(name: SyncName): SyncStrategy {
  // The name arrives in a JSON worker event, so check it at run time too.
  if (!Object.hasOwn(strategies, name)) {
    throw new SmltError('OPTION_INVALID', `Unknown sync strategy ${JSON.stringify(name)}: use ${Object.keys(strategies).join(' or ')}.`);
  }
  return strategies[name];
}

export type { SyncContext, SyncName, SyncStats, SyncStrategy } from './strategy.js';
