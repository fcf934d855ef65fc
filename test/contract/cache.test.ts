import { randomBytes } from 'node:crypto';
import type { FetchRunRow, QuoteRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko, type MarketItem } from '@cryptoagg/fake-upstream';
import type { RunningService } from '@cryptoagg/http';
import {
  type Api,
  createTestDatabase,
  gql,
  type GraphQLResponse,
  metric,
  OPERATIONS,
  type RedisServer,
  runScript,
  startApi,
  startRedisServer,
  type TestDatabase,
} from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The contract's "Caching" and "Freshness" promises, measured from outside:
 * each subgraph's /metrics counts the SQL statements API requests run
 * (cryptoagg_db_query_duration_seconds_count) and the cache lookups by result
 * (cryptoagg_cache_requests_total). Redis-backed APIs use a private
 * redis-server this file starts, kills and restarts.
 */

let fake: FakeCoinGecko;
let t: TestDatabase;
let redis: RedisServer;
/** the Redis cases need a redis-server of their own (killed and restarted); without one they are skipped outside CI */
const hasRedisServer = requireTool('redis-server');
const cleanups: (() => Promise<unknown>)[] = [];
/** bitcoin's round-0 usd item, the one the first fetcher run stores */
let bitcoin0: MarketItem;
/** a range around bitcoin's round-0 snapshot that also holds its round-1 snapshot (5 minutes later) */
let historyRange: { from: string; to: string };

const fetcherEnv = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: t.url,
  COINGECKO_BASE_URL: fake.url,
  COINGECKO_RATE_LIMIT_PER_MIN: '10000',
  FETCH_METADATA_PER_RUN: '250',
  LOG_LEVEL: 'warn',
  ...extra,
});

beforeAll(async () => {
  const started = await Promise.allSettled([
    startFakeCoinGecko({ coins: 250 }).then((server) => {
      fake = server;
      cleanups.push(() => server.close());
    }),
    createTestDatabase('contract_cache').then((database) => {
      t = database;
      cleanups.push(() => database.destroy());
    }),
    ...(hasRedisServer
      ? [
          startRedisServer().then((server) => {
            redis = server;
            cleanups.push(() => server.stop());
          }),
        ]
      : []),
  ]);
  for (const result of started) if (result.status === 'rejected') throw result.reason instanceof Error ? result.reason : new Error(String(result.reason));
  const fetched = await runScript('jobs/fetcher/src/main.ts', fetcherEnv());
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
  bitcoin0 = fake.markets('usd').find((item) => item.id === 'bitcoin')!;
  const at = Date.parse(bitcoin0.last_updated);
  historyRange = { from: new Date(at - 3_600_000).toISOString(), to: new Date(at + 3_600_000).toISOString() };
}, 120_000);

afterAll(async () => {
  const results = await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
});

// --- what a request costs each subgraph, read from its /metrics ---------------------------------

interface Counters {
  /** SQL statements that succeeded */
  sql: number;
  /** SQL statements that failed */
  sqlFailed: number;
  hit: number;
  miss: number;
  /** lookups Redis could not answer (down or too slow): answered by the database */
  error: number;
}
interface Usage {
  coins: Counters;
  prices: Counters;
}

async function counters(service: RunningService): Promise<Counters> {
  const [sql, sqlFailed, hit, miss, error] = await Promise.all(
    [
      'cryptoagg_db_query_duration_seconds_count{outcome="ok"}',
      'cryptoagg_db_query_duration_seconds_count{outcome="error"}',
      'cryptoagg_cache_requests_total{result="hit"}',
      'cryptoagg_cache_requests_total{result="miss"}',
      'cryptoagg_cache_requests_total{result="error"}',
    ].map((sample) => metric(service.url, sample)),
  );
  return { sql: sql!, sqlFailed: sqlFailed!, hit: hit!, miss: miss!, error: error! };
}

async function usage(api: Api): Promise<Usage> {
  const [coins, prices] = await Promise.all([counters(api.service('coins')), counters(api.service('prices'))]);
  return { coins, prices };
}

const minus = (a: Counters, b: Counters): Counters => ({
  sql: a.sql - b.sql,
  sqlFailed: a.sqlFailed - b.sqlFailed,
  hit: a.hit - b.hit,
  miss: a.miss - b.miss,
  error: a.error - b.error,
});

// --- the contract operations, and what each costs per subgraph ----------------------------------

type OperationName = 'Markets' | 'CoinDetail' | 'SearchCoins' | 'FetchStatus' | 'CoinHistory';
interface Operation {
  name: OperationName;
  variables: Record<string, unknown>;
}

/** Every contract operation once; Markets is a page of 100, CoinHistory a two-hour RAW range. */
const contractOperations = (): Operation[] => [
  { name: 'Markets', variables: { currency: 'usd', first: 100 } },
  { name: 'CoinDetail', variables: { id: 'bitcoin', currency: 'eur' } },
  { name: 'SearchCoins', variables: { search: 'bit', first: 10 } },
  { name: 'FetchStatus', variables: {} },
  { name: 'CoinHistory', variables: { id: 'bitcoin', currency: 'usd', ...historyRange, interval: 'RAW' } },
];

/**
 * Per subgraph: the SQL statements an operation runs when nothing is cached, and the cache keys it
 * looks up. Markets: prices reads the page and its count (2) under 1 key and primes each row's
 * quote; coins resolves the page's N entities through one DataLoader batch: N keys in one MGET,
 * one `where id in (...)` for those missing. SearchCoins: page and count under 1 key. CoinDetail
 * and CoinHistory: one coin entity on coins, one quote / history key on prices. FetchStatus: 1, 1.
 */
function costOf({ name, variables }: Operation): Record<keyof Usage, { sql: number; keys: number }> {
  switch (name) {
    case 'Markets':
      return { coins: { sql: 1, keys: Number(variables.first) }, prices: { sql: 2, keys: 1 } };
    case 'SearchCoins':
      return { coins: { sql: 2, keys: 1 }, prices: { sql: 0, keys: 0 } };
    case 'FetchStatus':
      return { coins: { sql: 0, keys: 0 }, prices: { sql: 1, keys: 1 } };
    case 'CoinDetail':
    case 'CoinHistory':
      return { coins: { sql: 1, keys: 1 }, prices: { sql: 1, keys: 1 } };
  }
}

/** cold: nothing cached; warm: everything cached; down: Redis unavailable, every lookup an error. */
function expectedCost(op: Operation, state: 'cold' | 'warm' | 'down'): Usage {
  const of = ({ sql, keys }: { sql: number; keys: number }): Counters => ({
    sql: state === 'warm' ? 0 : sql,
    sqlFailed: 0,
    hit: state === 'warm' ? keys : 0,
    miss: state === 'cold' ? keys : 0,
    error: state === 'down' ? keys : 0,
  });
  const cost = costOf(op);
  return { coins: of(cost.coins), prices: of(cost.prices) };
}

/** One request through the gateway, with its duration and what it cost each subgraph. */
async function measure<T = Record<string, unknown>>(api: Api, { name, variables }: Operation): Promise<{ res: GraphQLResponse<T>; ms: number; cost: Usage }> {
  const before = await usage(api);
  const started = performance.now();
  const res = await gql<T>(api.url, OPERATIONS, variables, name);
  const ms = performance.now() - started;
  const after = await usage(api);
  return { res, ms, cost: { coins: minus(after.coins, before.coins), prices: minus(after.prices, before.prices) } };
}

// --- APIs on the test database, each with a cache of its own ------------------------------------

type Mode = 'redis' | 'memory';
interface TestApi extends Api {
  prefix: string;
}

let apiCount = 0;
const FILE_PREFIX = `contract-cache:${randomBytes(4).toString('hex')}`;

async function readyz(service: RunningService, query = ''): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${service.url}/readyz${query}`);
  return { status: response.status, body: await response.json() };
}

const READY = {
  redis: { status: 200, body: { status: 'ready', checks: { postgres: 'up', redis: 'up' } } },
  memory: { status: 200, body: { status: 'ready', checks: { postgres: 'up' } } },
};

/**
 * Starts one API per mode (a fresh key prefix each, so every cache starts cold), waits until both
 * subgraphs are ready (in redis mode: connected to Redis), runs `use`, and stops them all.
 */
async function withApis<T>(modes: Mode[], use: (apis: TestApi[]) => Promise<T>): Promise<T> {
  const apis: TestApi[] = [];
  try {
    for (const mode of modes) {
      const prefix = `${FILE_PREFIX}:${++apiCount}:`;
      // The gateway's own response cache is off here: these tests measure the subgraphs' caches.
      const api = await startApi({
        DATABASE_URL: t.url,
        ...(mode === 'redis' ? { REDIS_URL: redis.url } : {}),
        REDIS_KEY_PREFIX: prefix,
        RESPONSE_CACHE_TTL_MS: '0',
      });
      apis.push({ ...api, prefix });
      await expect
        .poll(() => Promise.all([readyz(api.service('coins')), readyz(api.service('prices'))]), { timeout: 10_000, interval: 100 })
        .toEqual([READY[mode], READY[mode]]);
    }
    return await use(apis);
  } finally {
    await Promise.all(apis.map((api) => api.stop()));
  }
}

/** The contract's order: market-cap rank ascending, unranked last, then id (byte-wise). */
function listingOrder(items: MarketItem[]): MarketItem[] {
  return [...items].sort((a, b) => (a.market_cap_rank ?? Infinity) - (b.market_cap_rank ?? Infinity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

interface Quote {
  currency: string;
  price: number;
  marketCap: number | null;
  lastUpdated?: string;
  fetchedAt: string;
}
interface MarketsData {
  markets: { totalCount: number; edges: { node: { id: string; name: string; marketCapRank: number | null; quote: Quote | null } }[] };
}
interface CoinDetailData {
  coin: { id: string; name: string; description: string | null; quote: Quote | null } | null;
}
interface HistoryData {
  coin: { history: { time: string; price: number; marketCap: number | null; totalVolume: number | null }[] } | null;
}
interface FetchStatusData {
  fetchStatus: { lastSuccessAt: string | null; lastAttemptAt: string | null; coinsUpdated: number };
}

function answered<T>(res: GraphQLResponse<T>): T {
  expect(res.errors).toBeUndefined();
  expect(res.status).toBe(200);
  return res.data!;
}

async function fetchedAt(coinId: string, currency: string): Promise<string> {
  const row = await t.db<QuoteRow>('latest_quotes').where({ coin_id: coinId, currency }).first();
  return row!.fetched_at.toISOString();
}

// --- the tests --------------------------------------------------------------------------------

describe.each<{ mode: Mode }>([{ mode: 'redis' as const }, { mode: 'memory' as const }].filter(({ mode }) => mode !== 'redis' || hasRedisServer))(
  'with the $mode cache',
  ({ mode }) => {
    it('resolves a Markets page of 100 coins with 1 SQL statement on coins and 2 on prices, then 250 coins with as many', async () => {
      await withApis([mode], async ([api]) => {
        const expected = listingOrder(fake.markets('usd'));
        const first100: Operation = { name: 'Markets', variables: { currency: 'usd', first: 100 } };
        const page = await measure<MarketsData>(api!, first100);
        const edges = answered(page.res).markets.edges;
        expect(edges.map((e) => e.node.id)).toEqual(expected.slice(0, 100).map((i) => i.id));
        // Every entity was resolved by the coins subgraph and every quote by the prices subgraph.
        expect(edges.map((e) => [e.node.name, e.node.quote?.price])).toEqual(expected.slice(0, 100).map((i) => [i.name, i.current_price]));
        expect(page.cost).toEqual(expectedCost(first100, 'cold'));

        // Constant, not per coin: 250 coins (100 of them cached as entities now) still cost 1 and 2.
        const all = await measure<MarketsData>(api!, { name: 'Markets', variables: { currency: 'usd', first: 250 } });
        expect(answered(all.res).markets.edges.map((e) => [e.node.id, e.node.name])).toEqual(expected.map((i) => [i.id, i.name]));
        expect(all.cost).toEqual({
          coins: { sql: 1, sqlFailed: 0, hit: 100, miss: 150, error: 0 },
          prices: { sql: 2, sqlFailed: 0, hit: 0, miss: 1, error: 0 },
        });
      });
    });

    it('answers a repeated Markets or CoinDetail from the cache without touching Postgres, with the same data', async () => {
      await withApis([mode], async ([api]) => {
        // A coin outside the first page, so the two operations share no cache entry.
        const outside = listingOrder(fake.markets('eur'))[150]!;
        const markets: Operation = { name: 'Markets', variables: { currency: 'usd', first: 100 } };
        const detail: Operation = { name: 'CoinDetail', variables: { id: outside.id, currency: 'eur' } };

        const cold = { markets: await measure<MarketsData>(api!, markets), detail: await measure<CoinDetailData>(api!, detail) };
        const warm = { markets: await measure<MarketsData>(api!, markets), detail: await measure<CoinDetailData>(api!, detail) };

        expect(cold.markets.cost).toEqual(expectedCost(markets, 'cold'));
        expect(cold.detail.cost).toEqual(expectedCost(detail, 'cold'));
        expect(warm.markets.cost).toEqual(expectedCost(markets, 'warm'));
        expect(warm.detail.cost).toEqual(expectedCost(detail, 'warm'));

        // The cached answers are the database's answers, byte for byte once parsed.
        expect(warm.markets.res).toEqual(cold.markets.res);
        expect(warm.detail.res).toEqual(cold.detail.res);
        expect(answered(warm.detail.res).coin).toMatchObject({
          id: outside.id,
          name: outside.name,
          description: fake.coinDetail(outside.id)!.description.en,
          quote: { currency: 'eur', price: outside.current_price, marketCap: outside.market_cap, fetchedAt: await fetchedAt(outside.id, 'eur') },
        });
      });
    });
  },
);

describe.skipIf(!hasRedisServer)('when Redis stops mid-test', () => {
  it('answers every operation from Postgres, fast and unchanged, reports redis down in /readyz, and caches again once Redis is back', async () => {
    await withApis(['redis'], async ([api]) => {
      const operations = contractOperations();
      const before = new Map<OperationName, GraphQLResponse>();
      for (const op of operations) {
        const res = await gql(api!.url, OPERATIONS, op.variables, op.name);
        answered(res);
        before.set(op.name, res);
      }
      expect((before.get('CoinHistory')!.data as unknown as HistoryData).coin!.history).toEqual([
        { time: bitcoin0.last_updated, price: bitcoin0.current_price, marketCap: bitcoin0.market_cap, totalVolume: bitcoin0.total_volume },
      ]);
      for (const op of operations) {
        const { res, cost } = await measure(api!, op);
        expect(res, op.name).toEqual(before.get(op.name));
        expect(cost, op.name).toEqual(expectedCost(op, 'warm'));
      }

      await redis.kill();
      // Twice, a second apart: the client's reconnect attempts in between must not slow anything down.
      for (const round of [1, 2]) {
        if (round === 2) await new Promise((resolve) => setTimeout(resolve, 1_000));
        for (const op of operations) {
          const { res, cost, ms } = await measure(api!, op);
          expect(res, op.name).toEqual(before.get(op.name));
          expect(cost, op.name).toEqual(expectedCost(op, 'down'));
          expect(ms, op.name).toBeLessThan(1_000);
        }
      }
      const down = { status: 503, body: { status: 'unavailable', down: ['redis'], checks: { postgres: 'up', redis: 'down' } } };
      expect(await readyz(api!.service('coins'))).toEqual(down);
      expect(await readyz(api!.service('prices'))).toEqual(down);
      // Kubernetes' readiness probe excludes Redis: the pods keep serving from Postgres; Redis is still reported.
      const servingWithoutRedis = { status: 200, body: { status: 'ready', checks: { postgres: 'up', redis: 'down' } } };
      expect(await readyz(api!.service('coins'), '?exclude=redis')).toEqual(servingWithoutRedis);
      expect(await readyz(api!.service('prices'), '?exclude=redis')).toEqual(servingWithoutRedis);
      // The gateway reads only the data version there (the subgraphs also report it): it reports Redis down, and
      // keeps serving where the probe excludes it.
      expect(await readyz(api!.gateway)).toEqual({
        status: 503,
        body: { status: 'unavailable', down: ['redis'], checks: { coins: 'up', prices: 'up', redis: 'down' } },
      });
      expect(await readyz(api!.gateway, '?exclude=redis')).toEqual({
        status: 200,
        body: { status: 'ready', checks: { coins: 'up', prices: 'up', redis: 'down' } },
      });

      await redis.start();
      await expect
        .poll(() => Promise.all([readyz(api!.service('coins')), readyz(api!.service('prices'))]), { timeout: 5_000, interval: 100 })
        .toEqual([READY.redis, READY.redis]);
      // The restarted Redis is empty: one pass fills it, the next is served from it.
      for (const op of operations) expect(await gql(api!.url, OPERATIONS, op.variables, op.name), op.name).toEqual(before.get(op.name));
      for (const op of operations) {
        const { res, cost } = await measure(api!, op);
        expect(res, op.name).toEqual(before.get(op.name));
        expect(cost, op.name).toEqual(expectedCost(op, 'warm'));
      }
    });
  });
});

describe.skipIf(!hasRedisServer)('freshness', () => {
  it('shows a fetcher run from another process within 1 s in answers that were cached, in Redis or in process', async () => {
    // The fake's coin metadata never changes between rounds: an older description stands in for
    // metadata the upstream has changed since, so the run has coins-subgraph data to refresh too.
    const description = fake.coinDetail('bitcoin')!.description.en;
    await t.db('coins').where({ id: 'bitcoin' }).update({ description: 'An older description of Bitcoin.' });
    await withApis(['redis', 'memory'], async (apis) => {
      const probes: Operation[] = [
        { name: 'Markets', variables: { currency: 'usd', first: 1 } },
        { name: 'CoinDetail', variables: { id: 'bitcoin', currency: 'eur' } },
        { name: 'FetchStatus', variables: {} },
        { name: 'CoinHistory', variables: { id: 'bitcoin', currency: 'usd', ...historyRange, interval: 'RAW' } },
      ];
      const view = async (api: Api) => {
        const [markets, detail, status, history] = await Promise.all(probes.map((op) => gql(api.url, OPERATIONS, op.variables, op.name)));
        const coin = (answered(detail!) as unknown as CoinDetailData).coin;
        return {
          quote: (answered(markets!) as unknown as MarketsData).markets.edges[0]?.node.quote,
          detail: { description: coin?.description, quote: coin?.quote },
          status: (answered(status!) as unknown as FetchStatusData).fetchStatus,
          history: (answered(history!) as unknown as HistoryData).coin?.history,
        };
      };

      // Cached: asked twice, the second time without a single SQL statement.
      const old = await Promise.all(apis.map((api) => view(api)));
      for (const api of apis) {
        for (const op of probes) expect((await measure(api, op)).cost, `${op.name} cached`).toEqual(expectedCost(op, 'warm'));
      }

      fake.setRound(1);
      const bitcoin1 = fake.markets('usd').find((i) => i.id === 'bitcoin')!;
      const eur1 = fake.markets('eur').find((i) => i.id === 'bitcoin')!;
      // As the CronJob runs it: with the API's Redis, and refreshing metadata of any age.
      const fetched = await runScript(
        'jobs/fetcher/src/main.ts',
        fetcherEnv({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: apis[0]!.prefix, FETCH_METADATA_MAX_AGE_HOURS: '0' }),
      );
      expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
      const done = performance.now();

      const runs = await t.db<FetchRunRow>('fetch_runs').orderBy('id', 'desc');
      // The second run (ids come from a sequence other writers share: only their order counts).
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      const run = runs[0];
      expect(run).toMatchObject({ status: 'succeeded', coins_updated: 250 });
      const fresh = {
        quote: {
          currency: 'usd',
          price: bitcoin1.current_price,
          marketCap: bitcoin1.market_cap,
          totalVolume: bitcoin1.total_volume,
          high24h: bitcoin1.high_24h,
          low24h: bitcoin1.low_24h,
          priceChange24h: bitcoin1.price_change_24h,
          priceChangePercentage24h: bitcoin1.price_change_percentage_24h,
          circulatingSupply: bitcoin1.circulating_supply,
          lastUpdated: bitcoin1.last_updated,
          fetchedAt: await fetchedAt('bitcoin', 'usd'),
        },
        detail: {
          description,
          quote: { currency: 'eur', price: eur1.current_price, marketCap: eur1.market_cap, fetchedAt: await fetchedAt('bitcoin', 'eur') },
        },
        status: { lastSuccessAt: run!.finished_at!.toISOString(), lastAttemptAt: run!.started_at.toISOString(), coinsUpdated: 250 },
        history: [bitcoin0, bitcoin1].map((i) => ({ time: i.last_updated, price: i.current_price, marketCap: i.market_cap, totalVolume: i.total_volume })),
      };
      // Every part of every old answer is stale, so each one must change.
      for (const before of old) {
        expect(before.quote?.price).not.toBe(fresh.quote.price);
        expect(before.detail.quote?.price).not.toBe(fresh.detail.quote.price);
        expect(before.detail.description).toBe('An older description of Bitcoin.');
        expect(before.status.lastSuccessAt).not.toBe(fresh.status.lastSuccessAt);
        expect(before.history).toHaveLength(1);
      }

      const delays = await Promise.all(
        apis.map(async (api) => {
          await expect.poll(() => view(api), { timeout: 1_000, interval: 25 }).toEqual(fresh);
          return performance.now() - done;
        }),
      );
      // The contract's freshness: every query shows a finished run within 1 s.
      for (const delay of delays) expect(delay).toBeLessThan(1_000);
    });
  });
});
