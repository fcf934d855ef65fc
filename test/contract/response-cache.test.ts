/**
 * The gateway's whole-response cache, keyed by the data version, measured from outside: a hot query
 * costs the subgraphs one fetch per data version (counted by the gateway's
 * cryptoagg_subgraph_request_duration_seconds), a fetcher run shows through the cache within the
 * contract's 1 s (with Redis, without it, and with Redis down), and answers carry ETag and
 * Cache-Control with 304 for a matching If-None-Match. Each API gets its own Redis key prefix.
 */
import { randomBytes } from 'node:crypto';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import {
  type Api,
  createTestDatabase,
  gql,
  metric,
  OPERATIONS,
  type RedisServer,
  runScript,
  startApi,
  startRedisServer,
  type TestDatabase,
} from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
let redis: RedisServer;
let round = 0;
const FILE_PREFIX = `contract-response-cache:${randomBytes(4).toString('hex')}`;
let apiCount = 0;

const fetcherEnv = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: t.url,
  COINGECKO_BASE_URL: fake.url,
  COINGECKO_RATE_LIMIT_PER_MIN: '10000',
  FETCH_MAX_COINS: '20',
  LOG_LEVEL: 'warn',
  ...extra,
});

beforeAll(async () => {
  [fake, t, redis] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('response_cache'), startRedisServer()]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', fetcherEnv());
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy(), redis.stop()]);
});

/** An API with the response caches as configured by default (on), on its own key prefix. */
async function withApi<T>(env: Record<string, string>, use: (api: Api, prefix: string) => Promise<T>): Promise<T> {
  const prefix = `${FILE_PREFIX}:${++apiCount}:`;
  const api = await startApi({ DATABASE_URL: t.url, REDIS_KEY_PREFIX: prefix, ...env });
  try {
    return await use(api, prefix);
  } finally {
    await api.stop();
  }
}

/** Requests the gateway sent the subgraphs (both), as its metrics count them. */
const subgraphFetches = async (api: Api) =>
  (await metric(api.gateway.url, 'cryptoagg_subgraph_request_duration_seconds_count{subgraph="prices",outcome="success"}')) +
  (await metric(api.gateway.url, 'cryptoagg_subgraph_request_duration_seconds_count{subgraph="coins",outcome="success"}'));
const gatewayCache = (api: Api, result: string) => metric(api.gateway.url, `cryptoagg_cache_requests_total{result="${result}"}`);

interface MarketsData {
  markets: { edges: { node: { id: string; quote: { price: number } | null } }[] };
}
/** bitcoin's usd price through the gateway (Markets, first: 1: bitcoin leads the fake's market-cap order). */
const price = async (api: Api) =>
  (await gql<MarketsData>(api.url, OPERATIONS, { currency: 'usd', first: 1 }, 'Markets')).data?.markets.edges[0]?.node.quote?.price;
const upstreamPrice = () => fake.markets('usd').find((item) => item.id === 'bitcoin')!.current_price;

/** One fetcher run of the fake's next round, as the CronJob runs it; resolves when the process has exited. */
async function nextRun(env: Record<string, string> = {}): Promise<{ done: number; fresh: number }> {
  fake.setRound(++round);
  const fetched = await runScript('jobs/fetcher/src/main.ts', fetcherEnv(env));
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
  return { done: performance.now(), fresh: upstreamPrice() };
}

/** Asks until bitcoin's price is `fresh`; returns how long after `done` it first was. */
async function freshWithin(api: Api, { done, fresh }: { done: number; fresh: number }): Promise<number> {
  await expect.poll(() => price(api), { timeout: 1_000, interval: 25 }).toBe(fresh);
  return performance.now() - done;
}

describe('answers keyed by the data version', () => {
  it('executes a hot query once per data version, and shows a fetcher run within 1 s (the fetcher publishes the version in Redis)', async () => {
    await withApi({ REDIS_URL: redis.url }, async (api, prefix) => {
      const ask = () => gql(api.url, OPERATIONS, { currency: 'usd', first: 5 }, 'Markets');
      const fetchesBefore = await subgraphFetches(api);
      const hitsBefore = await gatewayCache(api, 'hit');
      const first = await ask();
      expect(first.errors).toBeUndefined();
      for (let i = 0; i < 20; i++) expect(await ask()).toEqual(first);
      // One execution: one request to prices (the page), one to coins (its entities); no expiry in between.
      expect(await subgraphFetches(api)).toBe(fetchesBefore + 2);
      expect(await gatewayCache(api, 'hit')).toBe(hitsBefore + 20);

      const stale = await price(api);
      const run = await nextRun({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix });
      expect(stale).not.toBe(run.fresh);
      expect(await freshWithin(api, run)).toBeLessThan(1_000);

      // The new version is executed once, then answered from memory again.
      const fresh = await ask();
      const fetchesAfter = await subgraphFetches(api);
      for (let i = 0; i < 20; i++) expect(await ask()).toEqual(fresh);
      expect(await subgraphFetches(api)).toBe(fetchesAfter);
      expect(fresh).not.toEqual(first);
    });
  });

  it('without Redis: shows a fetcher run within 1 s, learning the version from the subgraphs', async () => {
    await withApi({}, async (api) => {
      const before = await price(api);
      expect(await price(api)).toBe(before);
      const run = await nextRun();
      expect(before).not.toBe(run.fresh);
      expect(await freshWithin(api, run)).toBeLessThan(1_000);
    });
  });

  it('with Redis down: still answers, and still shows a fetcher run within 1 s (from the subgraphs)', async () => {
    const own = await startRedisServer();
    try {
      await withApi({ REDIS_URL: own.url }, async (api, prefix) => {
        const before = await price(api);
        await own.kill();
        // Cached and uncached answers alike, without Redis.
        expect(await price(api)).toBe(before);
        const other = await gql<MarketsData>(api.url, OPERATIONS, { currency: 'eur', first: 3 }, 'Markets');
        expect({ status: other.status, errors: other.errors, coins: other.data?.markets.edges.length }).toEqual({ status: 200, errors: undefined, coins: 3 });
        // The fetcher cannot publish either (it logs it and succeeds).
        const run = await nextRun({ REDIS_URL: own.url, REDIS_KEY_PREFIX: prefix });
        expect(await freshWithin(api, run)).toBeLessThan(1_000);
      });
    } finally {
      await own.stop();
    }
  });
});

describe('HTTP caching headers', () => {
  it('sends the data version, a strong ETag and Cache-Control, and answers a matching If-None-Match with 304', async () => {
    await withApi({}, async (api) => {
      const body = JSON.stringify({ query: OPERATIONS, operationName: 'FetchStatus' });
      const ask = (headers: Record<string, string> = {}) =>
        fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const first = await ask();
      const text = await first.text();
      // The version the subgraphs answer from (the newest committed run), as they report it.
      const version = (await fetch(`${api.service('prices').url}/healthz`)).headers.get('x-cryptoagg-data-version');
      expect(Number(version)).toBeGreaterThan(0);
      expect({
        status: first.status,
        version: first.headers.get('x-cryptoagg-data-version'),
        cacheControl: first.headers.get('cache-control'),
        etag: first.headers.get('etag'),
      }).toEqual({ status: 200, version, cacheControl: 'public, max-age=0, must-revalidate', etag: expect.stringMatching(/^"[\w-]{27}"$/) as string });
      const etag = first.headers.get('etag')!;
      const hit = await ask();
      expect({ status: hit.status, etag: hit.headers.get('etag'), text: await hit.text() }).toEqual({ status: 200, etag, text });
      const revalidated = await ask({ 'if-none-match': etag });
      expect({ status: revalidated.status, etag: revalidated.headers.get('etag'), text: await revalidated.text() }).toEqual({ status: 304, etag, text: '' });
    });
  });
});
