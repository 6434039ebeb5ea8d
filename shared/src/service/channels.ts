/**
 * The gradient channel a run asks for: none (gradients go through the run's store), `redis` (a
 * private redis-server this process starts and stops), or a Redis URL (`redis://host:port`,
 * `rediss://` for TLS, e.g. ElastiCache). A password in the URL, or the private server's, reaches
 * local worker processes through `SMLT_REDIS_PASSWORD` in their environment, never through events.
 */
import type { ObjectStore, StoreLocation } from '../backends/ports.js';
import { type PrivateRedis, startPrivateRedis } from '../backends/redis/private-server.js';
import { RedisStore } from '../backends/redis/redis-store.js';
import { SmltError } from '../errors.js';
import type { ChannelName } from '../scheduler/channel-choice.js';

export interface Channel {
  store: ObjectStore;
  location: StoreLocation;
}

/** What `--channel` accepts; `auto` lets the adaptive scheduler choose between the store and a private Redis. */
export function isChannelSpec(value: string): boolean {
  return value === 'store' || value === 'redis' || value === 'auto' || /^rediss?:\/\//.test(value);
}

/** The channels the planner may plan for, for a request's channel spec (`auto` needs a Redis to choose). */
export function plannedChannels(spec: string | undefined, redisAvailable = true): ChannelName[] {
  if (spec === undefined || spec === 'store') return ['store'];
  if (spec === 'auto') return redisAvailable ? ['store', 'redis'] : ['store'];
  return ['redis'];
}

export class Channels {
  private privateRedis?: Promise<PrivateRedis>;
  private readonly stores: RedisStore[] = [];

  /**
   * The channel for `spec`, or undefined when gradients go through the store. `redis` means
   * `redis` of the backend: a private server (local), or the configured endpoint (AWS).
   */
  async open(spec: string | undefined, redis: 'private' | string | undefined = 'private'): Promise<Channel | undefined> {
    if (spec === undefined || spec === 'store') return undefined;
    if (spec === 'auto') throw new SmltError('OPTION_INVALID', 'The channel "auto" is chosen by the adaptive scheduler: give a deadline, a budget or an objective.');
    if (!isChannelSpec(spec)) {
      throw new SmltError('OPTION_INVALID', `Unknown channel "${spec}": use store, redis (a private redis-server) or a redis://HOST:PORT URL.`);
    }
    if (spec === 'redis' && redis === undefined) {
      throw new SmltError(
        'OPTION_INVALID',
        'No Redis channel is configured for this backend: run `smlt deploy --channel-url rediss://HOST:PORT --subnets subnet-… --security-groups sg-…` (an ElastiCache endpoint the functions can reach).',
      );
    }
    if (spec === 'redis' && redis !== 'private') spec = redis!;
    let url: URL;
    if (spec === 'redis') {
      this.privateRedis ??= startPrivateRedis();
      const server = await this.privateRedis;
      url = new URL(server.url);
      url.password = server.password;
    } else {
      url = new URL(spec);
    }
    if (url.password) process.env.SMLT_REDIS_PASSWORD = decodeURIComponent(url.password);
    const store = new RedisStore({ url: url.toString(), prefix: 'smlt' });
    this.stores.push(store);
    return { store, location: store.location };
  }

  async close(): Promise<void> {
    await Promise.all(this.stores.map((store) => store.close()));
    const server = await this.privateRedis?.catch(() => undefined);
    await server?.stop();
  }
}
