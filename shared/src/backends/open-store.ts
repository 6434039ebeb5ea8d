/**
 * Opening the store a `StoreLocation` names: the one module that knows every ObjectStore adapter,
 * so the adapters and the helpers they share (`store-utils.ts`) never import each other.
 */
import { s3StoreAt } from './aws/s3-store.js';
import { FolderStore } from './local/folder-store.js';
import type { ObjectStore, StoreLocation } from './ports.js';
import { redisStoreAt } from './redis/redis-store.js';

/** Opens the store a `StoreLocation` names; a worker calls this once per container and reuses it. */
export function openStore(location: StoreLocation): ObjectStore {
  switch (location.kind) {
    case 'folder':
      return new FolderStore(location.root);
    case 's3':
      return s3StoreAt(location);
    case 'redis':
      return redisStoreAt(location);
  }
}
