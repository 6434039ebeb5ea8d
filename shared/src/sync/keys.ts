/**
 * Every key the sync strategies write, in one place. Under the epoch's sync prefix:
 *
 *   <prefix>/<hh>/<strategy>-i<iteration>-s<shard>-w<rank>   shard `shard` of rank's gradient
 *   <prefix>/<hh>/<strategy>-i<iteration>-s<shard>-mean      the mean of that shard over all ranks
 *
 * `<hh>` is two hex digits of a hash of (iteration, shard). S3 serves about 3,500 PUT and 5,500
 * GET per second per partitioned prefix (CALIBRATION.md), and hierarchical aggregation issues
 * ≈n² PUTs and ≈2n² GETs per iteration plus polls; a hash right after the prefix spreads them
 * over 256 prefixes S3 can partition on. (A new bucket still starts as one partition and splits
 * only under sustained load, so this raises the ceiling, it does not lift the starting limit.)
 *
 * One folder level per hash bucket, not per iteration and shard: S3 does not care, but the
 * folder store would create (and later remove) new folders every iteration, which made a put
 * four times slower (2.5 ms instead of 0.6 ms) than a put into an existing folder.
 *
 * Keys are a pure function of (prefix, strategy, iteration, shard, rank), so a retried worker
 * writes the same keys, and everything lives under `${prefix}/`: listing that deletes the epoch.
 */
import type { SyncName } from './strategy.js';

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function partKey(prefix: string, strategy: SyncName, iteration: number, shard: number, rank: number): string {
  return `${shardStem(prefix, strategy, iteration, shard)}-w${pad(rank, 4)}`;
}

export function meanKey(prefix: string, strategy: SyncName, iteration: number, shard: number): string {
  return `${shardStem(prefix, strategy, iteration, shard)}-mean`;
}

function shardStem(prefix: string, strategy: SyncName, iteration: number, shard: number): string {
  return `${prefix}/${spreadHex(iteration, shard)}/${strategy}-i${pad(iteration, 7)}-s${pad(shard, 4)}`;
}

/** FNV-1a of "iteration/shard", folded to one byte: cheap, stable across platforms and runs. */
function spreadHex(iteration: number, shard: number): string {
  let hash = 0x811c9dc5;
  for (const char of `${iteration}/${shard}`) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  }
  return ((hash ^ (hash >>> 8) ^ (hash >>> 16) ^ (hash >>> 24)) & 0xff).toString(16).padStart(2, '0');
}
