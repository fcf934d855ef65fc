import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@cryptoagg/core';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCache, storageKey, type Cache, type CacheOptions } from '../src/index.js';

const redisUrl = inject('redisUrl');
// Without Redis (no REDIS_URL, no redis-server) the Redis cases are skipped outside CI; the in-process ones still run.
const hasRedis = requireTool('redis-server', { provided: redisUrl !== '' });
const FILE_PREFIX = `test:bounds:${randomBytes(4).toString('hex')}:`;
let prefixes = 0;

const opened: Cache[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((cache) => cache.close()));
});

async function setup(overrides: Partial<CacheOptions> = {}) {
  const registry = new Registry();
  const keyPrefix = `${FILE_PREFIX}${prefixes++}:`;
  const cache = createCache({ keyPrefix, ttlSeconds: 60, logger: createLogger('bounds-test', 'silent'), registry, ...overrides });
  opened.push(cache);
  if (overrides.redisUrl) await expect.poll(() => cache.status()).toBe('up');
  const memoryBytes = async () => (await registry.getSingleMetric('cryptoagg_cache_memory_bytes')?.get())?.values[0]?.value;
  return { cache, keyPrefix, memoryBytes };
}

/** `loadMissing` that records its batches and answers `value:<key>` for each key. */
function batchLoader() {
  const batches: string[][] = [];
  const load = (missing: string[]) => {
    batches.push(missing);
    return Promise.resolve(new Map(missing.map((key) => [key, `value:${key}`])));
  };
  return { batches, load };
}

it.skipIf(!hasRedis)('has a Redis under CI (fails rather than skips without one)', () => {
  expect(redisUrl).not.toBe('');
});

describe('in-process store', () => {
  it('stays within its byte bound, keeping the most recently used entries', async () => {
    const maxBytes = 20_000;
    const { cache, memoryBytes } = await setup({ maxBytes });
    const value = 'v'.repeat(998); // 1,000 characters of JSON: at least 2,000 bytes an entry
    const keys = Array.from({ length: 100 }, (_, i) => `k:${i}`);
    for (const key of keys) expect(await cache.get(key, () => Promise.resolve(value))).toBe(value);

    const held = await memoryBytes();
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(maxBytes);
    const reloaded: string[] = [];
    const answers = await cache.getMany(
      keys,
      (key) => key,
      (missing) => {
        reloaded.push(...missing);
        return Promise.resolve(new Map(missing.map((key) => [key, value])));
      },
    );
    expect(answers).toEqual(keys.map(() => value));
    const kept = keys.filter((key) => !reloaded.includes(key));
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept.length * 2 * 1_000).toBeLessThanOrEqual(maxBytes);
    expect(kept).toEqual(keys.slice(-kept.length));
  });

  it('answers a value larger than the whole bound without keeping it or evicting the others', async () => {
    const { cache, memoryBytes } = await setup({ maxBytes: 20_000 });
    await cache.get('small', () => Promise.resolve('s'));
    const before = await memoryBytes();
    let loads = 0;
    const huge = () => Promise.resolve({ n: ++loads, text: 'h'.repeat(50_000) });
    expect(await cache.get('huge', huge)).toEqual({ n: 1, text: 'h'.repeat(50_000) });
    expect(await cache.get('huge', huge)).toEqual({ n: 2, text: 'h'.repeat(50_000) });
    expect(await memoryBytes()).toBe(before);
    expect(await cache.get('small', () => Promise.resolve('reloaded'))).toBe('s');
  });

  it('purges expired entries from memory without waiting for a lookup', async () => {
    const { cache, memoryBytes } = await setup({ ttlSeconds: 1 });
    for (let i = 0; i < 5; i++) await cache.get(`k:${i}`, () => Promise.resolve('v'.repeat(1_000)));
    expect(await memoryBytes()).toBeGreaterThan(5 * 2_000);
    await sleep(1_300);
    expect(await memoryBytes()).toBe(0);
  });

  it('keeps a 1 MB key under a short hashed key, and still hits', async () => {
    const { cache, memoryBytes } = await setup();
    const key = `coins:${'a'.repeat(1_000_000)}`;
    let loads = 0;
    const load = () => Promise.resolve(`page ${++loads}`);
    expect(await cache.get(key, load)).toBe('page 1');
    expect(await cache.get(key, load)).toBe('page 1');
    expect(await memoryBytes()).toBeLessThan(1_000);
  });
});

describe.each(
  [
    { mode: 'redis', url: redisUrl },
    { mode: 'memory', url: undefined },
  ].filter(({ mode }) => mode !== 'redis' || hasRedis),
)('keys of unbounded client input ($mode)', ({ url }) => {
  it('tells apart long keys that differ only at the end, and keys that differ only in unpaired surrogates', async () => {
    const { cache } = await setup({ redisUrl: url });
    const long = (last: string) => `history:${'x'.repeat(300_000)}${last}`;
    expect(await cache.get(long('1'), () => Promise.resolve('one'))).toBe('one');
    expect(await cache.get(long('2'), () => Promise.resolve('two'))).toBe('two');
    expect(await cache.get(long('1'), () => Promise.resolve('loaded again'))).toBe('one');
    // UTF-8 turns both into U+FFFD: stored as given, they would be one Redis key.
    expect(await cache.get('coin:\uD800', () => Promise.resolve('high'))).toBe('high');
    expect(await cache.get('coin:\uDC00', () => Promise.resolve('low'))).toBe('low');
    expect(await cache.get('coin:\uD800', () => Promise.resolve('loaded again'))).toBe('high');
    // A short key spelled like the stored form of a long one is a different key.
    expect(await cache.get(storageKey(long('1')), () => Promise.resolve('impostor'))).toBe('impostor');
  });

  it('hands the caller its own ids in getMany, long keys included', async () => {
    const { cache } = await setup({ redisUrl: url });
    const long = 'y'.repeat(5_000);
    const quoteKey = (id: string) => `quote:usd:${id}`;
    const { batches, load } = batchLoader();
    expect(await cache.getMany(['bitcoin', long], quoteKey, load)).toEqual(['value:bitcoin', `value:${long}`]);
    expect(await cache.getMany([long, 'bitcoin'], quoteKey, load)).toEqual([`value:${long}`, 'value:bitcoin']);
    expect(batches).toEqual([['bitcoin', long]]);
  });
});

describe.skipIf(!hasRedis)('in Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('stores a 1 MB key under a short hashed key and still hits', async () => {
    const { cache, keyPrefix } = await setup({ redisUrl });
    const key = `v7:coins:${JSON.stringify(['b'.repeat(1_000_000), 100, null])}`;
    let loads = 0;
    const load = () => Promise.resolve({ coins: [], loads: ++loads });
    expect(await cache.get(key, load)).toEqual({ coins: [], loads: 1 });
    expect(await cache.get(key, load)).toEqual({ coins: [], loads: 1 });
    expect(loads).toBe(1);

    const stored = await redis.keys(`${keyPrefix}*`);
    expect(stored).toHaveLength(1);
    const [only = ''] = stored;
    expect(only.length - keyPrefix.length).toBeLessThanOrEqual(200);
    // The key's first 64 characters stay readable.
    expect(only).toMatch(new RegExp(`^${keyPrefix}v7:coins:\\["b{53}#sha256:[0-9a-f]{64}$`));
    expect(await redis.get(only)).toBe('{"coins":[],"loads":1}');
  });
});

describe('failure isolation of shared loads', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase('cache_bounds', { migrate: false });
    await t.db.schema.createTable('coins', (table) => {
      table.text('id').primary();
      table.text('name').notNullable();
    });
    await t.db('coins').insert([
      { id: 'bitcoin', name: 'Bitcoin' },
      { id: 'ethereum', name: 'Ethereum' },
    ]);
  });
  afterAll(() => t.destroy());

  /** The data-access side: one query for all ids, slow enough for other requests to join it. */
  const findCoins = (ids: string[]) => t.db('coins').whereIn('id', ids).orderBy('id').select<{ id: string; name: string }[]>('id', 'name');
  const coinsLoader = () => {
    const batches: string[][] = [];
    const load = async (ids: string[]) => {
      batches.push(ids);
      await sleep(50);
      return new Map((await findCoins(ids)).map((row) => [row.id, row]));
    };
    return { batches, load };
  };
  /** Lets the first request's batch get under way, so that the next one joins it. */
  const underWay = () => sleep(10);

  describe.each(
    [
      { mode: 'redis', url: redisUrl },
      { mode: 'memory', url: undefined },
    ].filter(({ mode }) => mode !== 'redis' || hasRedis),
  )('$mode', ({ url }) => {
    it('a batch that PostgreSQL rejects for one request fails that request only; a joined getMany gets its exact values', async () => {
      const { cache } = await setup({ redisUrl: url });
      const originator = coinsLoader();
      const joiner = coinsLoader();
      // A NUL byte: PostgreSQL refuses the whole statement (22021).
      const failing = cache.getMany(['bitcoin', 'bad\u0000id'], (id) => id, originator.load);
      await underWay();
      const innocent = cache.getMany(['bitcoin', 'ethereum'], (id) => id, joiner.load);
      await expect(failing).rejects.toThrow('invalid byte sequence for encoding "UTF8": 0x00');
      expect(await innocent).toEqual([
        { id: 'bitcoin', name: 'Bitcoin' },
        { id: 'ethereum', name: 'Ethereum' },
      ]);
      expect(originator.batches).toEqual([['bitcoin', 'bad\u0000id']]);
      // Its own key first; then, once, the key it had joined.
      expect(joiner.batches).toEqual([['ethereum'], ['bitcoin']]);
      // What the innocent request loaded is cached for the next one.
      const next = coinsLoader();
      expect(await cache.getMany(['ethereum', 'bitcoin'], (id) => id, next.load)).toEqual([
        { id: 'ethereum', name: 'Ethereum' },
        { id: 'bitcoin', name: 'Bitcoin' },
      ]);
      expect(next.batches).toEqual([]);
    });

    it('a get that joined a rejected batch loads on its own, once; its own failure is its own', async () => {
      const { cache } = await setup({ redisUrl: url });
      const originator = coinsLoader();
      const failing = cache.getMany(['ethereum', 'bad\u0000id'], (id) => id, originator.load);
      await underWay();
      let loads = 0;
      const load = (id: string) => async () => {
        loads++;
        return (await findCoins([id]))[0] ?? null;
      };
      const joined = cache.get('ethereum', load('ethereum'));
      const unlucky = cache.get('bad\u0000id', load('bad\u0000id'));
      // Settled together: awaiting one at a time would leave a rejection without a handler while the others finish.
      const [failed, joinedResult, unluckyResult] = await Promise.allSettled([failing, joined, unlucky]);
      expect(failed.status === 'rejected' && String(failed.reason)).toContain('invalid byte sequence for encoding "UTF8": 0x00');
      expect(joinedResult).toEqual({ status: 'fulfilled', value: { id: 'ethereum', name: 'Ethereum' } });
      expect(unluckyResult.status === 'rejected' && String(unluckyResult.reason)).toContain('invalid byte sequence for encoding "UTF8": 0x00');
      expect(loads).toBe(2);
      expect(originator.batches).toEqual([['ethereum', 'bad\u0000id']]);
    });
  });
});
