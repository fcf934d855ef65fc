import { createHash } from 'node:crypto';
import type { Logger } from '@cryptoagg/core';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { CACHE_MEMORY_BYTES, CACHE_READ_DURATION, CACHE_REQUESTS, counter, histogram, summedGauge } from '@cryptoagg/metrics';
import type { Histogram, Registry } from 'prom-client';

export { DATA_VERSION_CHANNEL, DATA_VERSION_KEY, publishDataVersion, watchDataVersion, type DataVersionWatch } from './data-version.js';

export interface CacheOptions {
  /** unset = in-process LRU (lru-cache) */
  redisUrl?: string | undefined;
  /** prepended to every key, e.g. 'cryptoagg:prices:'; tests use a unique prefix per file */
  keyPrefix: string;
  /** default TTL for entries */
  ttlSeconds: number;
  /** Redis command timeout; a slower answer counts as an error and the loader is used; default 250 */
  commandTimeoutMs?: number;
  /** in-process LRU: at most this many entries; default 10_000 */
  maxEntries?: number;
  /**
   * in-process LRU: at most this many bytes, keys and JSON values counted at 2 bytes per UTF-16 unit plus a
   * fixed cost per entry (the least recently used entries make room; a larger value is answered but not kept);
   * default 64 MiB, an eighth of what a subgraph pod may use (384 MiB) next to Node, Apollo and the pools
   */
  maxBytes?: number;
  /** false: every lookup misses and nothing is stored (the "stock", uncached setup of the benchmarks) */
  enabled?: boolean;
  logger: Logger;
  /** the process's prom-client registry: the cache's metrics are registered here (once per registry) */
  registry: Registry;
}

/**
 * Cache-aside over Redis or an in-process LRU. Values travel as JSON in both modes, on hits and on
 * misses alike, so a caller always sees the same shapes: a Date comes back as its ISO string,
 * `undefined` object fields disappear, and a loader result of `undefined` is returned but not stored.
 * `null` is a value like any other (negative caching): a miss is a missing key, never a stored `null`.
 *
 * Keys may carry client input of any length: a key longer than 200 characters (or one that is not
 * well-formed UTF-16) is stored under a readable prefix and its SHA-256, in Redis and in memory alike,
 * while loaders and results keep seeing the caller's own keys and ids.
 *
 * Failure isolation: concurrent calls share loads in flight, but a call that joined another call's load
 * never fails because of that other call's keys. When a shared load rejects, its originator gets the
 * rejection; every call that joined it loads its own ids once more, with a load of its own, and gets
 * that load's answer (or its rejection).
 */
export interface Cache {
  /** cache-aside for one key; concurrent calls for the same key share one lookup and one load */
  get<T>(key: string, load: () => Promise<T>, ttlSeconds?: number): Promise<T>;
  /**
   * Batch cache-aside for DataLoader batch functions: each id is cached under `keyOf(id)`; one read
   * for all keys, then one call of `loadMissing` with the ids whose keys missed (keys another call is
   * already loading are shared, not loaded again; ids with equal keys are one entry, loaded by the
   * first of them). An id absent from the returned map is returned and cached as `null`. Ids joined
   * from a load that rejects are loaded again in one further call of this call's `loadMissing`.
   */
  getMany<Id, T>(
    ids: readonly Id[],
    keyOf: (id: Id) => string,
    loadMissing: (missing: Id[]) => Promise<Map<Id, T>>,
    ttlSeconds?: number,
  ): Promise<(T | null)[]>;
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

/** Times every read of a store: the dashboard's Redis latency. */
function timed(store: Store, duration: Histogram<'backend'>, backend: string): Store {
  return {
    ...store,
    read: async (keys) => {
      const started = performance.now();
      try {
        return await store.read(keys);
      } finally {
        duration.observe({ backend }, (performance.now() - started) / 1000);
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

/** Longer keys are hashed: client input (a search term, an id) must not make Redis or memory keys unbounded. */
export const MAX_KEY_LENGTH = 200;
const HASH_MARK = '#sha256:';
const READABLE_PREFIX = 64;
// With the u flag a surrogate pair reads as one code point, so only unpaired halves match.
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATES = /\p{Surrogate}/gu;

/**
 * The key under which the store keeps `key`: the key itself when it is short and well-formed, else a
 * readable prefix and the SHA-256 of the whole key. Keys holding the hash mark are hashed too, so a short
 * key can never pose as the hashed form of a long one. The hash reads UTF-16 code units, so keys that
 * differ only in unpaired surrogates (which UTF-8 would turn into the same U+FFFD) stay apart.
 */
export function storageKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH && !LONE_SURROGATE.test(key) && !key.includes(HASH_MARK)) return key;
  const readable = key.slice(0, READABLE_PREFIX).replace(LONE_SURROGATES, '\uFFFD');
  return `${readable}${HASH_MARK}${createHash('sha256').update(key, 'utf16le').digest('hex')}`;
}

/** What an entry costs besides its characters: the LRU's slots, the string headers, the TTL timer. */
const ENTRY_OVERHEAD_BYTES = 96;
const DEFAULT_MEMORY_MAX_BYTES = 64 * 1024 * 1024;

function memoryStore(limits: { maxEntries: number; maxBytes: number }, ttlSeconds: number, sizes: Set<() => number>): Store {
  const lru = new LRUCache<string, string>({
    max: limits.maxEntries,
    maxSize: limits.maxBytes,
    // V8 keeps a string in one or two bytes per UTF-16 unit: count the worst case so the bound holds.
    sizeCalculation: (json, key) => 2 * (key.length + json.length) + ENTRY_OVERHEAD_BYTES,
    ttl: ttlSeconds * 1000,
    // Expired entries leave memory when they expire, not only when they are next looked up or evicted.
    ttlAutopurge: true,
  });
  const size = () => lru.calculatedSize;
  sizes.add(size);
  return {
    read: (keys) => Promise.resolve(keys.map((key) => lru.get(key) ?? null)),
    write: (entries, ttl) => {
      for (const [key, json] of entries) lru.set(key, json, { ttl: ttl * 1000 });
      return Promise.resolve();
    },
    ping: () => Promise.resolve(true),
    close: () => {
      sizes.delete(size);
      lru.clear();
      return Promise.resolve();
    },
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
  // Several caches in one process (one per subgraph concern) share the registry's one counter.
  const requests = counter(options.registry, CACHE_REQUESTS);
  const redisHealth = health(logger);
  const backend = options.enabled === false ? 'none' : redisUrl ? 'redis' : 'memory';
  const memoryStores = summedGauge(options.registry, CACHE_MEMORY_BYTES);
  const store = timed(
    backend === 'none'
      ? noStore
      : redisUrl
        ? redisStore(redisUrl, options.commandTimeoutMs ?? 250, redisHealth)
        : memoryStore({ maxEntries: options.maxEntries ?? 10_000, maxBytes: options.maxBytes ?? DEFAULT_MEMORY_MAX_BYTES }, defaultTtl, memoryStores),
    histogram(options.registry, CACHE_READ_DURATION),
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
      const raws = await store.read(keys.map((key) => keyPrefix + storageKey(key)));
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
    store
      .write(
        entries.map(([key, json]) => [keyPrefix + storageKey(key), json]),
        ttl,
      )
      .catch(() => undefined);
  };

  /** One key's own cache-aside: read, else load and write back; shared with calls that come meanwhile. */
  const lookUp = <T>(key: string, load: () => Promise<T>, ttl: number): Promise<T> =>
    share(
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

  return {
    get<T>(key: string, load: () => Promise<T>, ttl = defaultTtl): Promise<T> {
      const pending = inflight.get(key) as Promise<T> | undefined;
      if (!pending) return lookUp(key, load, ttl);
      // The shared load may be another call's batch that failed for its own keys: ours gets one load of its own.
      return pending.catch(() => lookUp(key, load, ttl));
    },

    async getMany<Id, T>(
      ids: readonly Id[],
      keyOf: (id: Id) => string,
      loadMissing: (missing: Id[]) => Promise<Map<Id, T>>,
      ttl = defaultTtl,
    ): Promise<(T | null)[]> {
      /** the first id of each key: ids with equal keys are one entry */
      const idOf = new Map<string, Id>();
      const keys = ids.map((id) => {
        const key = keyOf(id);
        if (!idOf.has(key)) idOf.set(key, id);
        return key;
      });
      const unique = [...idOf];
      const raws = await read(unique.map(([key]) => key));
      const values = new Map<string, T | null>();
      const joined: [key: string, id: Id, load: Promise<T | null>][] = [];
      const missing: [key: string, id: Id][] = [];
      unique.forEach(([key, id], i) => {
        const raw = raws?.[i];
        const pending = inflight.get(key) as Promise<T | null> | undefined;
        if (typeof raw === 'string') values.set(key, JSON.parse(raw) as T | null);
        else if (pending) joined.push([key, id, pending]);
        else missing.push([key, id]);
      });

      /** One call of `loadMissing` for `own`, written back and shared key by key with calls that come meanwhile. */
      const loadOwn = (own: [key: string, id: Id][]): Promise<(T | null)[]> => {
        const loaded = loadMissing(own.map(([, id]) => id)).then((found) => {
          const entries = own.map(([key, id]): [string, string] => [key, JSON.stringify(found.get(id) ?? null)]);
          if (raws) write(entries, ttl);
          return new Map(entries.map(([key, json]) => [key, JSON.parse(json) as T | null]));
        });
        return Promise.all(
          own.map(([key]) =>
            share(
              key,
              loaded.then((found) => found.get(key) ?? null),
            ),
          ),
        );
      };

      const [own, shared] = await Promise.all([
        missing.length > 0 ? loadOwn(missing) : Promise.resolve([]),
        Promise.allSettled(joined.map(([, , load]) => load)),
      ]);
      missing.forEach(([key], i) => values.set(key, own[i] ?? null));
      const failed: [key: string, id: Id][] = [];
      joined.forEach(([key, id], i) => {
        const outcome = shared[i];
        if (outcome?.status === 'fulfilled') values.set(key, outcome.value);
        else failed.push([key, id]);
      });
      // A joined load rejected, perhaps for another call's ids: load ours once more, on our own.
      if (failed.length > 0) {
        const retried = await loadOwn(failed);
        failed.forEach(([key], i) => values.set(key, retried[i] ?? null));
      }
      return keys.map((key) => values.get(key) ?? null);
    },

    status: () => (redisUrl ? (redisHealth.state() === 'up' ? 'up' : 'down') : 'memory'),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
