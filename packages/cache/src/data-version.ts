import type { Logger } from '@cryptoagg/core';
import { Redis } from 'ioredis';

/**
 * The data version in Redis, for the processes that have no database (the gateway). One value
 * everywhere: the id of the newest committed fetcher run, the same number the subgraphs read from
 * PostgreSQL (`max(fetch_runs.id)`), so a version seen in Redis and one reported by a subgraph compare
 * directly. The fetcher raises the key to its run's id after the commit (never lowers it: a slower run
 * cannot undo a newer one) and publishes the resulting value on the channel.
 */

/** Redis key (after the configured prefix) holding the data version: the newest committed run's id. */
export const DATA_VERSION_KEY = 'data_version';
/** Redis channel (after the configured prefix) on which each new data version is published. */
export const DATA_VERSION_CHANNEL = 'data_changed';

// SET to the larger of the stored and the given version, then PUBLISH what is stored: atomic in Redis.
const RAISE_AND_PUBLISH = `
local stored = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local given = tonumber(ARGV[1])
if given > stored then
  redis.call('SET', KEYS[1], ARGV[1])
  stored = given
end
redis.call('PUBLISH', KEYS[2], tostring(stored))
return tostring(stored)
`;

/**
 * Raises the Redis data version to `version` (a run id) and publishes it. Best effort with short
 * timeouts: a Redis outage must not fail a stored run (the subgraphs learn from PostgreSQL, and the
 * gateway from them). Resolves to the stored version, which is larger when a newer run got there first.
 */
export async function publishDataVersion(redisUrl: string, keyPrefix: string, version: number): Promise<number> {
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
    const stored = await redis.eval(RAISE_AND_PUBLISH, 2, `${keyPrefix}${DATA_VERSION_KEY}`, `${keyPrefix}${DATA_VERSION_CHANNEL}`, String(version));
    return Number(stored);
  } finally {
    redis.disconnect();
  }
}

export interface DataVersionWatch {
  /** for /readyz: true when Redis answers PING with PONG */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** A version as Redis holds or sends it; anything else (a missing key, garbage) is no version. */
function parseVersion(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Follows the Redis data version: a subscription to the channel (new versions the moment the fetcher
 * publishes them) and a read of the key every `pollMs` and on each (re)connection (a message lost while
 * disconnected, a subscription that silently broke). `onVersion` gets every version read, old or new:
 * the caller keeps the largest. Never throws and never blocks a caller: while Redis is down it logs once,
 * retries in the background, and says so again when it is back.
 */
export function watchDataVersion(options: {
  redisUrl: string;
  keyPrefix: string;
  onVersion: (version: number) => void;
  logger: Logger;
  pollMs?: number;
}): DataVersionWatch {
  const { keyPrefix, onVersion, logger } = options;
  const key = `${keyPrefix}${DATA_VERSION_KEY}`;
  const channel = `${keyPrefix}${DATA_VERSION_CHANNEL}`;
  const connection = {
    connectTimeout: 2_000,
    // Never give up: following resumes by itself whenever Redis comes back.
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  };
  // A subscribed connection takes no other command: reads of the key go over a second one.
  const subscriber = new Redis(options.redisUrl, connection);
  const reader = new Redis(options.redisUrl, { ...connection, commandTimeout: 500 });
  let down = false;
  const failed = (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'data version: Redis unavailable; following the subgraphs until it is back');
  };
  const read = () =>
    // Not connected yet (or reconnecting): the connection's 'ready' reads it; an outage is reported by its 'error'.
    reader.status !== 'ready'
      ? Promise.resolve()
      : reader.get(key).then(
          (text) => {
            if (down) logger.info('data version: Redis is back');
            down = false;
            const version = parseVersion(text);
            if (version !== undefined) onVersion(version);
          },
          (error: unknown) => failed(error),
        );
  subscriber.on('error', failed);
  reader.on('error', failed);
  subscriber.on('message', (from: string, text: string) => {
    const version = parseVersion(text);
    if (from === channel && version !== undefined) onVersion(version);
  });
  // ioredis subscribes again by itself after a reconnection; the key is read then for what was missed.
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(() => read(), failed);
  });
  reader.on('ready', () => void read());
  const timer = setInterval(() => void read(), options.pollMs ?? 1_000);
  timer.unref();
  return {
    ping: async () => (await reader.ping()) === 'PONG',
    close: async () => {
      clearInterval(timer);
      await Promise.all([subscriber, reader].map((client) => client.quit().catch(() => client.disconnect())));
    },
  };
}
