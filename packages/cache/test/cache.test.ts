import { randomBytes } from 'node:crypto';
import { createLogger } from '@cryptoagg/core';
import { freePort, startRedisServer, type RedisServer } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createCache, type Cache, type CacheOptions } from '../src/index.js';

const redisUrl = inject('redisUrl');
// Without Redis (no REDIS_URL, no redis-server) the Redis cases are skipped outside CI; the in-process ones still run.
const hasRedis = requireTool('redis-server', { provided: redisUrl !== '' });
const FILE_PREFIX = `test:cache:${randomBytes(4).toString('hex')}:`;
let prefixes = 0;

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

const opened: Cache[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((cache) => cache.close()));
});

function setup(overrides: Partial<CacheOptions> = {}) {
  const registry = new Registry();
  const logs: LogLine[] = [];
  const logger = createLogger('cache-test', 'info', { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
  const cache = createCache({ redisUrl, keyPrefix: `${FILE_PREFIX}${prefixes++}:`, ttlSeconds: 60, logger, registry, ...overrides });
  opened.push(cache);
  const counts = async () => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'cryptoagg_cache_requests_total');
    const value = (result: string) => metric?.values.find((v) => v.labels.result === result)?.value;
    return { hit: value('hit'), miss: value('miss'), error: value('error') };
  };
  return { cache, registry, logs, counts };
}

/** A loader that counts its calls, as a stand-in for the database. */
function loader<T>(value: T) {
  const calls = { count: 0 };
  const load = () => {
    calls.count++;
    return Promise.resolve(value);
  };
  return { calls, load };
}

it.skipIf(!hasRedis)('has a Redis under CI (fails rather than skips without one)', () => {
  expect(redisUrl).not.toBe('');
});

describe.each(
  [
    { mode: 'redis', url: redisUrl },
    { mode: 'memory', url: undefined },
  ].filter(({ mode }) => mode !== 'redis' || hasRedis),
)('$mode mode', ({ mode, url }) => {
  async function ready(overrides: Partial<CacheOptions> = {}) {
    const t = setup({ redisUrl: url, ...overrides });
    if (mode === 'redis') await expect.poll(() => t.cache.status()).toBe('up');
    return t;
  }

  it('loads on the first get and serves the second from the cache, counting hit and miss', async () => {
    const { cache, counts } = await ready();
    expect(await counts()).toEqual({ hit: 0, miss: 0, error: 0 });
    const price = { id: 'bitcoin', price: 0.00001234, big: 1903746811536, change: null, at: new Date('2026-11-26T09:25:00Z') };
    const { calls, load } = loader(price);
    const expected = { id: 'bitcoin', price: 0.00001234, big: 1903746811536, change: null, at: '2026-11-26T09:25:00.000Z' };

    expect(await cache.get('coin:bitcoin', load)).toEqual(expected);
    expect(await cache.get('coin:bitcoin', load)).toEqual(expected);
    expect(calls.count).toBe(1);
    expect(await counts()).toEqual({ hit: 1, miss: 1, error: 0 });
    expect(cache.status()).toBe(mode === 'redis' ? 'up' : 'memory');
    expect(await cache.ping()).toBe(true);
  });

  it('caches null as a value, never caches undefined, and lets loader errors through uncached', async () => {
    const { cache, counts } = await ready();
    const none = loader(null);
    expect(await cache.get('coin:nope', none.load)).toBeNull();
    expect(await cache.get('coin:nope', none.load)).toBeNull();
    expect(none.calls.count).toBe(1);

    const nothing = loader(undefined);
    expect(await cache.get('undefined', nothing.load)).toBeUndefined();
    expect(await cache.get('undefined', nothing.load)).toBeUndefined();
    expect(nothing.calls.count).toBe(2);

    await expect(cache.get('broken', () => Promise.reject(new Error('database down')))).rejects.toThrow('database down');
    expect(await cache.get('broken', () => Promise.resolve('fixed'))).toBe('fixed');
    expect(await counts()).toEqual({ hit: 1, miss: 5, error: 0 });
  });

  it('getMany loads only the missing keys, once, and caches absent entities as null', async () => {
    const { cache, counts } = await ready();
    await cache.get('coin:bitcoin', () => Promise.resolve({ name: 'Bitcoin' }));
    const batches: string[][] = [];
    const loadMissing = (missing: string[]) => {
      batches.push(missing);
      return Promise.resolve(new Map(missing.filter((id) => id !== 'nope').map((id) => [id, { name: id }])));
    };
    const ids = ['nope', 'bitcoin', 'ethereum'];
    const coinKey = (id: string) => `coin:${id}`;

    expect(await cache.getMany(ids, coinKey, loadMissing)).toEqual([null, { name: 'Bitcoin' }, { name: 'ethereum' }]);
    expect(batches).toEqual([['nope', 'ethereum']]);
    expect(await counts()).toEqual({ hit: 1, miss: 3, error: 0 });

    expect(await cache.getMany(ids, coinKey, loadMissing)).toEqual([null, { name: 'Bitcoin' }, { name: 'ethereum' }]);
    expect(batches).toHaveLength(1);
    expect(await counts()).toEqual({ hit: 4, miss: 3, error: 0 });
  });

  it('getMany keeps each id under the key its key function gives: the loader and the answers see ids, one key is one entry', async () => {
    const { cache, counts } = await ready();
    const batches: string[][] = [];
    const loadMissing = (missing: string[]) => {
      batches.push(missing);
      return Promise.resolve(new Map(missing.map((id) => [id, { loadedAs: id }])));
    };
    const quoteKey = (id: string) => `quote:usd:${id.toLowerCase()}`;

    expect(await cache.getMany(['Bitcoin', 'ethereum', 'bitcoin'], quoteKey, loadMissing)).toEqual([
      { loadedAs: 'Bitcoin' },
      { loadedAs: 'ethereum' },
      { loadedAs: 'Bitcoin' },
    ]);
    expect(batches).toEqual([['Bitcoin', 'ethereum']]);
    expect(await counts()).toEqual({ hit: 0, miss: 2, error: 0 });
    // Stored under the keys themselves: a plain get of a key finds it without loading.
    expect(await cache.get('quote:usd:ethereum', () => Promise.resolve({ loadedAs: 'get' }))).toEqual({ loadedAs: 'ethereum' });
    expect(await counts()).toEqual({ hit: 1, miss: 2, error: 0 });
  });

  it('shares one load between concurrent misses for one key', async () => {
    const { cache } = await ready();
    let calls = 0;
    const slowLoad = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { rank: 1 };
    };
    const answers = await Promise.all(Array.from({ length: 10 }, () => cache.get('coin:bitcoin', slowLoad)));
    expect(answers).toEqual(Array.from({ length: 10 }, () => ({ rank: 1 })));
    expect(calls).toBe(1);

    const batches: string[][] = [];
    const loadMissing = async (missing: string[]) => {
      batches.push(missing);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return new Map(missing.map((id) => [id, id]));
    };
    const [a, b] = await Promise.all([cache.getMany(['x', 'y'], (id) => id, loadMissing), cache.getMany(['y', 'z'], (id) => id, loadMissing)]);
    expect([a, b]).toEqual([
      ['x', 'y'],
      ['y', 'z'],
    ]);
    expect(batches.flat().sort()).toEqual(['x', 'y', 'z']);
  });

  it('expires entries after their TTL', async () => {
    const { cache } = await ready({ ttlSeconds: 1 });
    const { calls, load } = loader('v');
    await cache.get('short', load);
    await cache.get('short', load);
    expect(calls.count).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await cache.get('short', load);
    expect(calls.count).toBe(2);

    await cache.get('per-call', load, 60);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await cache.get('per-call', load, 60);
    expect(calls.count).toBe(3);
  });
});

it('registers one counter per registry, shared by several caches', async () => {
  const registry = new Registry();
  const logger = createLogger('cache-test', 'silent');
  const a = createCache({ keyPrefix: 'a:', ttlSeconds: 60, logger, registry });
  const b = createCache({ keyPrefix: 'b:', ttlSeconds: 60, logger, registry });
  await a.get('k', () => Promise.resolve(1));
  await b.get('k', () => Promise.resolve(2));
  expect(await registry.metrics()).toContain('cryptoagg_cache_requests_total{result="miss"} 2');
  await Promise.all([a.close(), b.close()]);
});

it('starts and answers when Redis is unreachable from the start, and closes without hanging', async () => {
  const { cache, logs, counts } = setup({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
  expect(await cache.get('k', () => Promise.resolve('db'))).toBe('db');
  expect(
    await cache.getMany(
      ['a'],
      (id) => id,
      () => Promise.resolve(new Map([['a', 1]])),
    ),
  ).toEqual([1]);
  expect(cache.status()).toBe('down');
  expect(await cache.ping()).toBe(false);
  expect(await counts()).toEqual({ hit: 0, miss: 0, error: 2 });
  await expect.poll(() => logs.filter((l) => l.level === 40)).toHaveLength(1);
  await cache.close();
});

describe.skipIf(!requireTool('redis-server'))('with a Redis that goes away', () => {
  let redis: RedisServer | undefined;
  afterEach(async () => {
    await redis?.stop();
    redis = undefined;
  });

  /** Gets that must answer from the loader, each well under a second; returns how many ran. */
  async function answersWithoutRedis(cache: Cache, key: string, times: number) {
    for (let i = 0; i < times; i++) {
      const started = performance.now();
      expect(await cache.get(key, () => Promise.resolve(`db-${i}`))).toBe(`db-${i}`);
      expect(performance.now() - started).toBeLessThan(1_000);
    }
  }

  it('answers from the loader while Redis is down, logs once each way, and resumes caching', async () => {
    redis = await startRedisServer();
    const { cache, logs, counts } = setup({ redisUrl: redis.url });
    await expect.poll(() => cache.status()).toBe('up');
    const { calls, load } = loader('cached');
    await cache.get('k', load);
    expect(await cache.get('k', load)).toBe('cached');
    expect(calls.count).toBe(1);

    await redis.kill();
    await answersWithoutRedis(cache, 'k', 5);
    // Reconnect attempts keep failing meanwhile; none of them may add a log line.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await answersWithoutRedis(cache, 'k', 5);
    expect(cache.status()).toBe('down');
    expect(await cache.ping()).toBe(false);
    expect(await counts()).toEqual({ hit: 1, miss: 1, error: 10 });
    const warnings = logs.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe('cache unavailable, answering from the database');
    expect(warnings[0]?.reason).toBeTruthy();

    await redis.start();
    await expect.poll(() => cache.status(), { timeout: 10_000 }).toBe('up');
    expect(logs.filter((l) => l.level === 30).map((l) => l.msg)).toEqual(['cache available again, caching resumed']);
    const again = loader('fresh');
    await cache.get('k', again.load);
    expect(await cache.get('k', again.load)).toBe('fresh');
    expect(again.calls.count).toBe(1);
    expect(await counts()).toEqual({ hit: 2, miss: 2, error: 10 });
    expect(logs.filter((l) => l.level >= 40)).toHaveLength(1);
  });

  it('treats a Redis slower than the command timeout as unavailable', async () => {
    redis = await startRedisServer();
    const { cache, logs, counts } = setup({ redisUrl: redis.url, commandTimeoutMs: 100 });
    const pid = redis.pid();
    if (pid === undefined) throw new Error('redis-server has no pid');
    await expect.poll(() => cache.status()).toBe('up');
    await cache.get('k', () => Promise.resolve('cached'));

    // A stopped process keeps its connections open but never answers: the hung-server case.
    process.kill(pid, 'SIGSTOP');
    try {
      await answersWithoutRedis(cache, 'k', 3);
      expect(cache.status()).toBe('down');
      await cache.getMany(
        ['a', 'b'],
        (id) => id,
        (missing) => Promise.resolve(new Map(missing.map((k) => [k, k]))),
      );
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await counts()).toEqual({ hit: 0, miss: 1, error: 5 });
    expect(logs.filter((l) => l.level === 40)).toHaveLength(1);

    expect(await cache.get('k', () => Promise.resolve('db'))).toBe('cached');
    expect(cache.status()).toBe('up');
    expect(logs.filter((l) => l.level === 30)).toHaveLength(1);
  });
});
