import { parseConfig } from '@cryptoagg/core';
import type { FetchRunRow, SourceQuoteRow, SourceRunRow } from '@cryptoagg/db';
import {
  BINANCE_PAIRS,
  COINBASE_PAIRS,
  EXCHANGE_COINS,
  KRAKEN_PAIRS,
  startFakeCoinGecko,
  startFakeExchanges,
  type FakeCoinGecko,
  type FakeExchange,
  type FakeExchanges,
  type FakePair,
} from '@cryptoagg/fake-upstream';
import { createTestDatabase, freePort, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetcherConfigSchema, loadFetcherConfig } from '../src/config.js';
import { FetchRunFailed } from '../src/run.js';
import { fetcherEnv, runInProcess } from './helpers.js';

/**
 * The exchange sources in real fetcher runs against the fake CoinGecko and the three fake exchanges
 * (each its own HTTP server), on a database of its own: what is stored, the traps, and that a failing,
 * hanging or rate-limiting source fails only itself.
 */
const MAX_COINS = 30;
let cg: FakeCoinGecko;
let ex: FakeExchanges;
let t: TestDatabase;

beforeAll(async () => {
  [cg, ex, t] = await Promise.all([startFakeCoinGecko({ coins: MAX_COINS }), startFakeExchanges(), createTestDatabase('fetcher_sources')]);
});
afterAll(async () => {
  await Promise.all([cg.close(), ex.close(), t.destroy()]);
});
beforeEach(async () => {
  cg.reset();
  ex.reset();
  await t.db.raw('truncate coins, latest_quotes, quote_snapshots, fetch_runs, market_listings, source_runs, source_quotes, latest_source_quotes');
});

const env = (extra: Record<string, string> = {}) =>
  fetcherEnv(t, cg.url, { FETCH_MAX_COINS: String(MAX_COINS), FETCH_RETRIES: '2', EXCHANGE_SOURCES: 'binance,coinbase,kraken', ...ex.env, ...extra });
/** The runs' rate windows shrunk to 20 ms: the limits hold, the tests do not wait for them. */
const run = (extra: Record<string, string> = {}) => runInProcess(t, env(extra), 20);
const sourceRuns = () => t.db<SourceRunRow>('source_runs').orderBy('id');
const latest = () => t.db<SourceQuoteRow>('latest_source_quotes').orderBy(['source', 'pair']);
const byName = (rows: SourceRunRow[]) => Object.fromEntries(rows.map((r) => [r.source, r]));

const CURRENCY: Record<string, string> = { USD: 'usd', USDT: 'usd', USDC: 'usd', EUR: 'eur', BTC: 'btc' };

/** What a source must store, computed from what its fake served and the stablecoin prices the fake CoinGecko served. */
function expectedRows(fake: FakeExchange, pairs: readonly FakePair[]) {
  const usd = (id: string) => cg.markets('usd').find((c) => c.id === id)?.current_price ?? NaN;
  const factor: Record<string, number> = { USD: 1, EUR: 1, BTC: 1, USDT: usd('tether'), USDC: usd('usd-coin') };
  const served = fake.tickers();
  return pairs
    .flatMap((p) => {
      const values = served.get(p.pair);
      const coin = EXCHANGE_COINS[p.base];
      if (!values || !coin) return [];
      return [
        {
          source: fake.name,
          pair: p.pair,
          coin_id: coin,
          currency: CURRENCY[p.quote],
          price: values.price * (factor[p.quote] ?? NaN),
          quote_asset: p.quote,
          quote_price: values.price,
          volume: values.volume,
        },
      ];
    })
    .sort((a, b) => (a.pair < b.pair ? -1 : 1));
}

const withoutTime = (rows: SourceQuoteRow[]) => rows.map(({ time: _time, ...rest }) => rest);

describe('exchange sources in a fetcher run', () => {
  it('store every mapped pair of every exchange, stablecoin pairs converted with the stored tether / usd-coin prices', async () => {
    const result = await run();
    expect(result.sources.map((s) => [s.source, s.status, s.error])).toEqual([
      ['binance', 'succeeded', undefined],
      ['coinbase', 'succeeded', undefined],
      ['kraken', 'succeeded', undefined],
    ]);
    const stored = await latest();
    for (const [fake, pairs] of [
      [ex.binance, BINANCE_PAIRS],
      [ex.coinbase, COINBASE_PAIRS],
      [ex.kraken, KRAKEN_PAIRS],
    ] as const) {
      expect(withoutTime(stored.filter((r) => r.source === fake.name))).toEqual(expectedRows(fake, pairs));
    }
    // EURUSDT (a fiat base), BCCBTC (BREAK), XLM-EUR (delisted), ADA-EUR (trading disabled) and BCHEUR (cancel_only) are not there.
    for (const pair of ['EURUSDT', 'BCCBTC', 'XLM-EUR', 'ADA-EUR', 'BCHEUR']) expect(stored.some((r) => r.pair === pair)).toBe(false);
    // The history holds the same rows, at the time each was received.
    expect(await t.db('source_quotes').count<{ count: number }[]>('* as count')).toEqual([{ count: stored.length }]);
    const runs = await sourceRuns();
    expect(runs.map((r) => [r.source, r.status, r.quotes_stored, r.error])).toEqual([
      ['binance', 'succeeded', stored.filter((r) => r.source === 'binance').length, null],
      ['coinbase', 'succeeded', stored.filter((r) => r.source === 'coinbase').length, null],
      ['kraken', 'succeeded', stored.filter((r) => r.source === 'kraken').length, null],
    ]);
    // Each commit took a data version after the CoinGecko part's run id, from the same sequence.
    const [coingeckoRun] = await t.db<FetchRunRow>('fetch_runs');
    for (const r of runs) expect(Number(r.version)).toBeGreaterThan(Number(coingeckoRun?.id));
  });

  it("Kraken's bitcoin (XBT) and dogecoin (XDG) map to bitcoin and dogecoin", async () => {
    await run({ EXCHANGE_SOURCES: 'kraken' });
    const rows = await t.db<SourceQuoteRow>('latest_source_quotes').whereIn('pair', ['XBTUSD', 'XDGUSD', 'ETHXBT']).orderBy('pair');
    expect(rows.map((r) => [r.pair, r.coin_id, r.currency, r.quote_asset])).toEqual([
      ['ETHXBT', 'ethereum', 'btc', 'BTC'],
      ['XBTUSD', 'bitcoin', 'usd', 'USD'],
      ['XDGUSD', 'dogecoin', 'usd', 'USD'],
    ]);
  });

  it('leave out halted pairs and skip malformed numbers, counting them', async () => {
    ex.binance.setFaults({ halted: ['BTCUSDC'] });
    ex.kraken.setFaults({ halted: ['XDGUSD'] });
    ex.coinbase.setFaults({ malformed: ['ETH-USD'] });
    const result = await run();
    const pairs = (await latest()).map((r) => r.pair);
    for (const pair of ['BTCUSDC', 'XDGUSD', 'ETH-USD']) expect(pairs).not.toContain(pair);
    expect(pairs).toEqual(expect.arrayContaining(['BTCUSDT', 'XBTUSD', 'BTC-USD']));
    const coinbase = result.sources.find((s) => s.source === 'coinbase');
    expect([coinbase?.status, coinbase?.itemsSkipped]).toEqual(['succeeded', 1]);
    expect(byName(await sourceRuns()).coinbase?.items_skipped).toBe(1);
  });

  it('a source that is down fails alone, at once: the run succeeds and its earlier quotes stay', async () => {
    await run();
    const before = await latest();
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await run({ KRAKEN_BASE_URL: closed });
    expect(result.coinsUpdated).toBe(MAX_COINS);
    expect(result.sources.map((s) => [s.source, s.status])).toEqual([
      ['binance', 'succeeded'],
      ['coinbase', 'succeeded'],
      ['kraken', 'failed'],
    ]);
    const kraken = result.sources.find((s) => s.source === 'kraken');
    expect(kraken?.error).toMatch(/^GET \/0\/public\/AssetPairs: network \(.*ECONNREFUSED/);
    // Connection refused is not retried: one request.
    expect(kraken?.requests).toBe(1);
    const runs = await t.db<FetchRunRow>('fetch_runs').orderBy('id');
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    const after = await latest();
    expect(after.filter((r) => r.source === 'kraken')).toEqual(before.filter((r) => r.source === 'kraken'));
    const binanceTimes = new Set(after.filter((r) => r.source === 'binance').map((r) => r.time.getTime()));
    expect(binanceTimes.size).toBe(1);
    expect([...binanceTimes][0]).toBeGreaterThan(Math.max(...before.map((r) => r.time.getTime())));
  });

  it('a hanging source stops at its own deadline without delaying the CoinGecko part or the other sources', async () => {
    ex.kraken.setFaults({ hang: true });
    const result = await run({ EXCHANGE_DEADLINE_SECONDS: '2' });
    const kraken = result.sources.find((s) => s.source === 'kraken');
    expect([kraken?.status, kraken?.error]).toEqual(['failed', 'deadline of 2s exceeded']);
    const [coingecko] = await t.db<FetchRunRow>('fetch_runs');
    const runs = byName(await sourceRuns());
    const krakenFailedAt = runs.kraken?.finished_at?.getTime() ?? 0;
    expect(krakenFailedAt - (coingecko?.started_at.getTime() ?? 0)).toBeGreaterThanOrEqual(2_000);
    // Everything else was stored before the hanging source gave up.
    expect(coingecko?.status).toBe('succeeded');
    expect(coingecko?.finished_at?.getTime()).toBeLessThan(krakenFailedAt);
    expect(runs.binance?.finished_at?.getTime()).toBeLessThan(krakenFailedAt);
    expect(runs.coinbase?.finished_at?.getTime()).toBeLessThan(krakenFailedAt);
  });

  it('429 waits for Retry-After and 5xx is retried, each within its own source; a source that keeps failing fails alone', async () => {
    ex.binance.setFaults({ rateLimit: { count: 1, retryAfterSeconds: 0 } });
    ex.coinbase.setFaults({ serverError: { count: 2 }, pathPrefix: '/products/BTC-USD/ticker' });
    ex.kraken.setFaults({ serverError: { count: 'always' } });
    const result = await run();
    const runs = byName(await sourceRuns());
    expect([runs.binance?.status, runs.binance?.upstream_errors]).toEqual(['succeeded', { '429': 1 }]);
    expect([runs.coinbase?.status, runs.coinbase?.upstream_errors]).toEqual(['succeeded', { '503': 2 }]);
    expect((await latest()).some((r) => r.pair === 'BTC-USD')).toBe(true);
    // FETCH_RETRIES=2: three attempts.
    expect([runs.kraken?.status, runs.kraken?.error, runs.kraken?.requests, runs.kraken?.upstream_errors]).toEqual([
      'failed',
      'GET /0/public/AssetPairs: HTTP 503',
      3,
      { '503': 3 },
    ]);
    expect(result.coinsUpdated).toBe(MAX_COINS);
  });

  it("Kraken's errors in HTTP 200 fail it (retried when transient); a body that is not the JSON promised fails Binance", async () => {
    ex.kraken.setFaults({ errors: ['EService:Unavailable'] });
    ex.binance.setFaults({ garbage: true, pathPrefix: '/api/v3/ticker' });
    await run();
    const runs = byName(await sourceRuns());
    expect([runs.kraken?.status, runs.kraken?.error, runs.kraken?.requests]).toEqual([
      'failed',
      'GET /0/public/AssetPairs: Kraken error EService:Unavailable',
      3,
    ]);
    expect([runs.binance?.status, runs.binance?.error]).toEqual(['failed', 'GET /api/v3/ticker/24hr: not the expected shape (a JSON array)']);
    expect(runs.coinbase?.status).toBe('succeeded');

    ex.reset();
    ex.kraken.setFaults({ errors: ['EQuery:Unknown asset pair'] });
    await run({ EXCHANGE_SOURCES: 'kraken' });
    const [, , , again] = await sourceRuns();
    // Not transient: not retried.
    expect([again?.status, again?.requests]).toEqual(['failed', 1]);
  });

  it('with CoinGecko down, the sources still store their quotes, mapped with what earlier runs stored', async () => {
    await run();
    cg.setFaults({ serverError: { count: 'always' } });
    await expect(run()).rejects.toBeInstanceOf(FetchRunFailed);
    const runs = await sourceRuns();
    expect(runs.slice(3).map((r) => [r.source, r.status])).toEqual([
      ['binance', 'succeeded'],
      ['coinbase', 'succeeded'],
      ['kraken', 'succeeded'],
    ]);
    const [, failed] = await t.db<FetchRunRow>('fetch_runs').orderBy('id');
    expect(failed?.status).toBe('failed');
    const times = new Set((await latest()).map((r) => r.time.getTime()));
    expect(Math.min(...times)).toBeGreaterThan(failed?.started_at.getTime() ?? Infinity);
  });

  it('Coinbase is asked only for the products of the coins we list, in the configured currencies', async () => {
    await run({ FETCH_MAX_COINS: '2', FETCH_CURRENCIES: 'usd', EXCHANGE_SOURCES: 'coinbase' });
    // bitcoin and ethereum; their USDT products need tether's usd price, which a top 2 does not store.
    expect(ex.coinbase.requests.map((r) => r.path).sort()).toEqual(['/products', '/products/BTC-USD/ticker', '/products/ETH-USD/ticker']);
  });

  it('EXCHANGE_SOURCES=none reads CoinGecko only', async () => {
    const result = await run({ EXCHANGE_SOURCES: 'none' });
    expect(result.sources).toEqual([]);
    expect(await sourceRuns()).toEqual([]);
    expect([ex.binance, ex.coinbase, ex.kraken].flatMap((f) => f.requests)).toEqual([]);
  });
});

describe('the source quotes history', () => {
  const partitions = async () =>
    (
      await t.db.raw<{ rows: { name: string; bound: string }[] }>(
        `select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound from pg_inherits i join pg_class c on c.oid = i.inhrelid
          where i.inhparent = 'source_quotes'::regclass order by 1`,
      )
    ).rows;

  it('is partitioned by UTC month, whatever the session time zone, at most 120 months at once', async () => {
    const created = await t.db.transaction(async (trx) => {
      await trx.raw(`set local timezone = 'Europe/Berlin'`);
      const { rows } = await trx.raw<{ rows: { created: number }[] }>(
        `select ensure_source_quote_partitions('2030-01-15T00:00:00Z', '2030-03-02T00:00:00Z') as created`,
      );
      return rows[0]?.created;
    });
    expect(created).toBe(3);
    expect((await partitions()).filter((p) => p.name.startsWith('source_quotes_2030'))).toEqual([
      { name: 'source_quotes_2030_01', bound: "FOR VALUES FROM ('2030-01-01 00:00:00+00') TO ('2030-02-01 00:00:00+00')" },
      { name: 'source_quotes_2030_02', bound: "FOR VALUES FROM ('2030-02-01 00:00:00+00') TO ('2030-03-01 00:00:00+00')" },
      { name: 'source_quotes_2030_03', bound: "FOR VALUES FROM ('2030-03-01 00:00:00+00') TO ('2030-04-01 00:00:00+00')" },
    ]);
    await expect(t.db.raw(`select ensure_source_quote_partitions('2030-01-01T00:00:00Z', '2040-01-01T00:00:00Z')`)).rejects.toThrow(/more than 120 months/);
  });

  it('drops whole months past RETENTION_RAW_DAYS after a run, keeping the recent ones', async () => {
    await t.db.raw(`select ensure_source_quote_partitions('2020-01-10T00:00:00Z', '2020-02-10T00:00:00Z')`);
    await t.db('source_quotes').insert({
      source: 'kraken',
      pair: 'XBTUSD',
      time: new Date('2020-01-10T00:00:00Z'),
      coin_id: 'bitcoin',
      currency: 'usd',
      price: 8000,
      quote_asset: 'USD',
      quote_price: 8000,
      volume: 1,
    });
    await run({ EXCHANGE_SOURCES: 'kraken', RETENTION_RAW_DAYS: '90' });
    const names = (await partitions()).map((p) => p.name);
    expect(names.filter((n) => n.startsWith('source_quotes_2020'))).toEqual([]);
    const month = new Date().toISOString().slice(0, 7).replace('-', '_');
    expect(names).toContain(`source_quotes_${month}`);
    expect(await t.db('source_quotes').where({ source: 'kraken' }).min<{ min: Date }[]>('time as min')).not.toEqual([
      { min: new Date('2020-01-10T00:00:00Z') },
    ]);
  });
});

describe('exchange source configuration', () => {
  it('defaults to the three exchanges and their real base URLs', () => {
    const parsed = parseConfig(fetcherConfigSchema, {});
    expect(parsed.ok && parsed.config.exchanges).toEqual({
      sources: ['binance', 'coinbase', 'kraken'],
      baseUrls: { binance: 'https://api.binance.com', coinbase: 'https://api.exchange.coinbase.com', kraken: 'https://api.kraken.com' },
      deadlineMs: 120_000,
    });
  });

  it('an empty EXCHANGE_SOURCES (or none) means CoinGecko only; names are case-insensitive and kept in a fixed order', () => {
    expect(loadFetcherConfig({ EXCHANGE_SOURCES: '' }).exchanges.sources).toEqual([]);
    expect(loadFetcherConfig({ EXCHANGE_SOURCES: ' Kraken, binance ' }).exchanges.sources).toEqual(['binance', 'kraken']);
  });

  it('an unknown source or a malformed base URL is one line naming the variable', () => {
    const parsed = parseConfig(fetcherConfigSchema, { EXCHANGE_SOURCES: 'binance,bitstamp', KRAKEN_BASE_URL: 'kraken' });
    expect(parsed.ok ? [] : parsed.errors).toEqual([
      'invalid configuration: EXCHANGE_SOURCES: must be a comma-separated list of binance, coinbase, kraken (empty or none: CoinGecko only)',
      'invalid configuration: KRAKEN_BASE_URL: must be a URL like https://api.kraken.com',
    ]);
  });
});
