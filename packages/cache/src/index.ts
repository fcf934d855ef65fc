import type { Logger } from '@cryptoagg/core';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface CacheOptions {
  /** unset = in-process LRU (lru-cache) */
  redisUrl?: string | undefined;
  /** prepended to every key, e.g. 'cryptoagg:prices:'; tests use a unique prefix per file */
  keyPrefix: string;
  /** default TTL for entries */
  ttlSeconds: number;
  /** Redis command timeout; a slower answer counts as an error and the loader is used; default 250 */
  commandTimeoutMs?: number;
  /** in-process LRU size; default 10_000 */
  maxEntries?: number;
  /** false: every lookup misses and nothing is stored (the "stock", uncached setup of the benchmarks) */
  enabled?: boolean;
  logger: Logger;
  /** the process's prom-client registry: the counter is registered here (once per registry) */
  registry: Registry;
}

/**
 * Cache-aside over Redis or an in-process LRU. Values travel as JSON in both modes, on hits and on
 * misses alike, so a caller always sees the same shapes: a Date comes back as its ISO string,
 * `undefined` object fields disappear, and a loader result of `undefined` is returned but not stored.
 * `null` is a value like any other (negative caching): a miss is a missing key, never a stored `null`.
 */
export interface Cache {
  /** cache-aside for one key; concurrent calls for the same key share one lookup and one load */
  get<T>(key: string, load: () => Promise<T>, ttlSeconds?: number): Promise<T>;
  /**
   * Batch cache-aside for DataLoader batch functions: one read for all keys, then one call of
   * `loadMissing` with the keys that missed (keys another call is already loading are shared, not
   * loaded again). A key absent from the returned map is returned and cached as `null`.
   */
  getMany<T>(keys: string[], loadMissing: (missing: string[]) => Promise<Map<string, T>>, ttlSeconds?: number): Promise<(T | null)[]>;
  /** 'memory' without Redis; 'up' / 'down' with Redis ('down' until the first connection is ready) */
  status(): 'memory' | 'up' | 'down';
  /** for /readyz: true when Redis answers PING with PONG within the command timeout (always true in memory mode) */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Raw string storage under full keys; `null` means a miss. Redis errors surface as rejections. */
interface Store {
  read(keys: string[]): Promise<(string | null)[]>;
  write(entries: [key: string, json: string][], ttlSeconds: number): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

const METRIC = 'cryptoagg_cache_requests_total';

function requestCounter(registry: Registry): Counter<'result'> {
  // Several caches in one process (one per subgraph concern) share the registry's one counter.
  const existing = registry.getSingleMetric(METRIC);
  if (existing instanceof Counter) return existing;
  const counter = new Counter({
    name: METRIC,
    help: 'Cache lookups by result: hit, miss, or error (Redis unavailable or too slow; answered by the loader)',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ['hit', 'miss', 'error']) counter.inc({ result }, 0);
  return counter;
}

function readDuration(registry: Registry): Histogram<'backend'> {
  const existing = registry.getSingleMetric('cryptoagg_cache_read_duration_seconds');
  if (existing instanceof Histogram) return existing;
  return new Histogram({
    name: 'cryptoagg_cache_read_duration_seconds',
    help: 'Duration of cache reads (one GET/MGET round trip to Redis, or an in-process lookup), failed ones included.',
    labelNames: ['backend'],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  });
}

/** Times every read of a store: the dashboard's Redis latency. */
function timed(store: Store, histogram: Histogram<'backend'>, backend: string): Store {
  return {
    ...store,
    read: async (keys) => {
      const started = performance.now();
      try {
        return await store.read(keys);
      } finally {
        histogram.observe({ backend }, (performance.now() - started) / 1000);
      }
    },
  };
}

const noStore: Store = {
  read: (keys) => Promise.resolve(keys.map(() => null)),
  write: () => Promise.resolve(),
  ping: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};

function memoryStore(maxEntries: number, ttlSeconds: number): Store {
  const lru = new LRUCache<string, string>({ max: maxEntries, ttl: ttlSeconds * 1000 });
  return {
    read: (keys) => Promise.resolve(keys.map((key) => lru.get(key) ?? null)),
    write: (entries, ttl) => {
      for (const [key, json] of entries) lru.set(key, json, { ttl: ttl * 1000 });
      return Promise.resolve();
    },
    ping: () => Promise.resolve(true),
    close: () => Promise.resolve(lru.clear()),
  };
}

function redisStore(url: string, commandTimeout: number, health: Health): Store {
  const client = new Redis(url, {
    // Fail fast while disconnected: the loader answers instead of requests piling up in a queue.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout,
    connectTimeout: 2_000,
    // Never give up: caching resumes by itself whenever Redis comes back.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    lazyConnect: false,
  });
  let closing = false;
  client.on('ready', () => health.up());
  client.on('error', (error: Error) => health.down(error));
  client.on('close', () => {
    if (!closing) health.down(new Error('connection closed'));
  });
  const track = async <R>(command: Promise<R>): Promise<R> => {
    try {
      const result = await command;
      health.up();
      return result;
    } catch (error) {
      health.down(error);
      throw error;
    }
  };
  return {
    read: (keys) => track(client.mget(keys)),
    write: async (entries, ttl) => {
      const pipeline = client.pipeline();
      for (const [key, json] of entries) pipeline.set(key, json, 'EX', ttl);
      // Errors only: a write that succeeds says nothing new, and must not announce a recovery.
      const results = await pipeline.exec().catch((error: unknown) => [[error]]);
      const failed = results?.find(([error]) => error)?.[0];
      if (failed) health.down(failed);
    },
    ping: async () => {
      try {
        return (await track(client.ping())) === 'PONG';
      } catch {
        return false;
      }
    },
    close: async () => {
      closing = true;
      try {
        await client.quit();
      } catch {
        // not connected: nothing to say goodbye to
      } finally {
        client.disconnect();
      }
    },
  };
}

/** Redis availability, logged on transitions only so an outage costs two log lines, not one per request. */
interface Health {
  up(): void;
  down(reason: unknown): void;
  state(): 'starting' | 'up' | 'down';
}

function health(logger: Logger): Health {
  let state: 'starting' | 'up' | 'down' = 'starting';
  return {
    up: () => {
      if (state === 'down') logger.info('cache available again, caching resumed');
      state = 'up';
    },
    down: (reason) => {
      if (state !== 'down') {
        const message = reason instanceof Error ? reason.message || reason.name : String(reason);
        logger.warn({ reason: message }, 'cache unavailable, answering from the database');
      }
      state = 'down';
    },
    state: () => state,
  };
}

export function createCache(options: CacheOptions): Cache {
  const { keyPrefix, ttlSeconds: defaultTtl, redisUrl } = options;
  const logger = options.logger.child({ component: 'cache', keyPrefix });
  const requests = requestCounter(options.registry);
  const redisHealth = health(logger);
  const backend = options.enabled === false ? 'none' : redisUrl ? 'redis' : 'memory';
  const store = timed(
    backend === 'none'
      ? noStore
      : redisUrl
        ? redisStore(redisUrl, options.commandTimeoutMs ?? 250, redisHealth)
        : memoryStore(options.maxEntries ?? 10_000, defaultTtl),
    readDuration(options.registry),
    backend,
  );
  /** lookups and loads in progress, by caller key: concurrent misses share them */
  const inflight = new Map<string, Promise<unknown>>();

  const share = <V>(key: string, work: Promise<V>): Promise<V> => {
    inflight.set(key, work);
    const forget = () => {
      if (inflight.get(key) === work) inflight.delete(key);
    };
    work.then(forget, forget);
    return work;
  };

  /** The raw entries for `keys`, or `undefined` when the store failed (counted as errors). */
  const read = async (keys: string[]): Promise<(string | null)[] | undefined> => {
    try {
      const raws = await store.read(keys.map((key) => keyPrefix + key));
      for (const raw of raws) requests.inc({ result: raw === null ? 'miss' : 'hit' });
      return raws;
    } catch {
      requests.inc({ result: 'error' }, keys.length);
      return undefined;
    }
  };

  const write = (entries: [string, string][], ttl: number): void => {
    if (entries.length === 0) return;
    // Fire and forget: a failed write only costs a future miss, and health already logged it.
    store.write(entries.map(([key, json]) => [keyPrefix + key, json]), ttl).catch(() => undefined);
  };

  return {
    get<T>(key: string, load: () => Promise<T>, ttl = defaultTtl): Promise<T> {
      const pending = inflight.get(key);
      if (pending) return pending as Promise<T>;
      return share(
        key,
        (async () => {
          const raws = await read([key]);
          const raw = raws?.[0];
          if (typeof raw === 'string') return JSON.parse(raw) as T;
          const value = await load();
          const json = JSON.stringify(value) as string | undefined;
          if (json === undefined) return value;
          // Only when Redis answered the read: writing to a Redis that just failed would fail too.
          if (raws) write([[key, json]], ttl);
          return JSON.parse(json) as T;
        })(),
      );
    },

    async getMany<T>(keys: string[], loadMissing: (missing: string[]) => Promise<Map<string, T>>, ttl = defaultTtl): Promise<(T | null)[]> {
      const unique = [...new Set(keys)];
      const raws = await read(unique);
      const values = new Map<string, Promise<T | null>>();
      const missing: string[] = [];
      unique.forEach((key, i) => {
        const raw = raws?.[i];
        const pending = inflight.get(key);
        if (typeof raw === 'string') values.set(key, Promise.resolve(JSON.parse(raw) as T | null));
        else if (pending) values.set(key, pending as Promise<T | null>);
        else missing.push(key);
      });
      if (missing.length > 0) {
        const loaded = loadMissing(missing).then((found) => {
          const entries = missing.map((key): [string, string] => [key, JSON.stringify(found.get(key) ?? null)]);
          if (raws) write(entries, ttl);
          return new Map(entries.map(([key, json]) => [key, JSON.parse(json) as T | null]));
        });
        for (const key of missing) values.set(key, share(key, loaded.then((found) => found.get(key) ?? null)));
      }
      const settled = await Promise.all(unique.map((key) => values.get(key) ?? Promise.resolve(null)));
      const byKey = new Map(unique.map((key, i) => [key, settled[i] ?? null]));
      return keys.map((key) => byKey.get(key) ?? null);
    },

    status: () => (redisUrl ? (redisHealth.state() === 'up' ? 'up' : 'down') : 'memory'),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
