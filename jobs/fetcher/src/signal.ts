import { DATA_VERSION_KEY } from '@cryptoagg/db';
import { Redis } from 'ioredis';

/**
 * Bumps the data version in Redis so API caches whose keys carry it stop
 * matching at once. Best effort with short timeouts: Postgres NOTIFY already
 * told the listeners, and a Redis outage must not fail a stored run.
 */
export async function bumpDataVersion(redisUrl: string, keyPrefix: string): Promise<number> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Failures surface through the command's promise; without a listener ioredis would also print them.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await redis.incr(`${keyPrefix}${DATA_VERSION_KEY}`);
  } finally {
    redis.disconnect();
  }
}
