import type { FetchRunRow, SourceQuoteRow } from '@cryptoagg/db';
import { startFakeCoinGecko, startFakeExchanges, type FakeCoinGecko, type FakeExchanges } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, metric, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Quote.consensus, Quote.sources and fetchStatus.sources through the gateway (CONTRACT section 8), on the
 * data of real fetcher runs (`npm run fetch`'s entry point) against the fake CoinGecko and the three fake
 * exchanges, with tickers pinned to hand-picked prices so every expected number is worked out by hand.
 */
let cg: FakeCoinGecko;
let ex: FakeExchanges;
let t: TestDatabase;
let api: Api;

// Enough coins to hold a real symbol collision of the sample: dogecoin (rank 8) and binance-peg-dogecoin (rank 124).
const MAX_COINS = 130;

const fetch = async (extra: Record<string, string> = {}) => {
  const run = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: cg.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: String(MAX_COINS),
    FETCH_METADATA_PER_RUN: '0',
    FETCH_RETRY_BASE_MS: '20',
    EXCHANGE_SOURCES: 'binance,coinbase,kraken',
    ...ex.env,
    LOG_LEVEL: 'warn',
    ...extra,
  });
  expect(run.code, run.stdout + run.stderr).toBe(0);
};

const QUOTE = `query ($id: ID!, $currency: String) {
  coin(id: $id) {
    quote(currency: $currency) {
      price
      consensus { price sourceCount spreadPct outliers computedAt }
      sources { source pair price volume24h fetchedAt stale outlier }
    }
  }
}`;

interface SourceQuote {
  source: string;
  pair: string;
  price: number;
  volume24h: number | null;
  fetchedAt: string;
  stale: boolean;
  outlier: boolean;
}
interface QuoteAnswer {
  coin: {
    quote: {
      price: number;
      consensus: { price: number; sourceCount: number; spreadPct: number; outliers: string[]; computedAt: string } | null;
      sources: SourceQuote[];
    } | null;
  } | null;
}

async function quote(id: string, currency = 'usd') {
  const answer = await gql<QuoteAnswer>(api.url, QUOTE, { id, currency });
  expect(answer.errors).toBeUndefined();
  const q = answer.data?.coin?.quote;
  if (!q) throw new Error(`no ${currency} quote of ${id}`);
  return q;
}

const usd = (id: string) => cg.markets('usd').find((c) => c.id === id)?.current_price ?? NaN;
const receivedAt = async (source: string) =>
  ((await t.db<SourceQuoteRow>('latest_source_quotes').where('source', source).first())?.time ?? new Date(0)).toISOString();

beforeAll(async () => {
  [cg, ex, t] = await Promise.all([startFakeCoinGecko({ coins: MAX_COINS }), startFakeExchanges(), createTestDatabase('contract_consensus')]);
  // Bitcoin in usd, in the quote asset of each pair (volumes in BTC):
  ex.binance.setTicker('BTCUSDT', { price: 96_100, volume: 500 });
  ex.binance.setTicker('BTCUSDC', { price: 96_300, volume: 10 });
  ex.coinbase.setTicker('BTC-USD', { price: 96_050, volume: 300 });
  ex.coinbase.setTicker('BTC-USDT', { price: 96_080, volume: 50 });
  ex.kraken.setTicker('XBTUSD', { price: 99_000, volume: 200 });
  ex.kraken.setTicker('XBTUSDT', { price: 96_000, volume: 20 });
  ex.kraken.setTicker('XBTUSDC', { price: 96_000, volume: 20 });
  await fetch();
  const redisUrl = inject('redisUrl');
  api = await startApi({ DATABASE_URL: t.url, ...(redisUrl ? { REDIS_URL: redisUrl } : {}), REDIS_KEY_PREFIX: `contract-consensus-${Date.now()}:` });
});
afterAll(async () => {
  await api.stop();
  await Promise.all([cg.close(), ex.close(), t.destroy()]);
});

describe('the consensus price through the gateway', () => {
  it('bitcoin in usd: hand-computed from the pinned tickers, with every source as evidence', async () => {
    const B = usd('bitcoin'); // CoinGecko: 96114.08481738689
    const T = usd('tether'); // 1.000150209258716: USDT pairs convert with it, never 1:1
    const U = usd('usd-coin'); // 1.0000005036420196
    const q = await quote('bitcoin');
    // One candidate per source, the pair with the larger volume: CoinGecko B, binance BTCUSDT (500 > 10) at
    // 96100 x T = 96114.435..., coinbase BTC-USD (300 > 50) at 96050, kraken XBTUSD (200 > 20 + 20) at 99000.
    // Median of the four: (B + 96100 x T) / 2 = 96114.26; kraken is 3.0% away (> 2%): an outlier.
    // Counted 96050, B, 96100 x T: the median is B; the spread (96100 x T - 96050) / B x 100 = 0.0670%.
    expect(q.consensus).toEqual({
      price: B,
      sourceCount: 3,
      spreadPct: ((96_100 * T - 96_050) / B) * 100,
      outliers: ['kraken'],
      computedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as unknown,
    });
    const [binanceAt, coinbaseAt, krakenAt] = await Promise.all([receivedAt('binance'), receivedAt('coinbase'), receivedAt('kraken')]);
    const coingeckoAt = (await t.db('latest_quotes').where({ coin_id: 'bitcoin', currency: 'usd' }).first<{ fetched_at: Date }>())?.fetched_at.toISOString();
    const fresh = { stale: false, outlier: false };
    expect(q.sources).toEqual([
      { source: 'coingecko', pair: 'bitcoin', price: B, volume24h: null, fetchedAt: coingeckoAt, ...fresh },
      { source: 'binance', pair: 'BTCUSDC', price: 96_300 * U, volume24h: 10, fetchedAt: binanceAt, ...fresh },
      { source: 'binance', pair: 'BTCUSDT', price: 96_100 * T, volume24h: 500, fetchedAt: binanceAt, ...fresh },
      { source: 'coinbase', pair: 'BTC-USD', price: 96_050, volume24h: 300, fetchedAt: coinbaseAt, ...fresh },
      { source: 'coinbase', pair: 'BTC-USDT', price: 96_080 * T, volume24h: 50, fetchedAt: coinbaseAt, ...fresh },
      { source: 'kraken', pair: 'XBTUSD', price: 99_000, volume24h: 200, fetchedAt: krakenAt, stale: false, outlier: true },
      { source: 'kraken', pair: 'XBTUSDC', price: 96_000 * U, volume24h: 20, fetchedAt: krakenAt, ...fresh },
      { source: 'kraken', pair: 'XBTUSDT', price: 96_000 * T, volume24h: 20, fetchedAt: krakenAt, ...fresh },
    ]);
  });

  it('a symbol shared by two coins serves the best-ranked one: DOGE is dogecoin, not binance-peg-dogecoin', async () => {
    const dogecoin = await quote('dogecoin');
    expect(dogecoin.sources.map((s) => `${s.source} ${s.pair}`)).toEqual(['coingecko dogecoin', 'binance DOGEUSDT', 'coinbase DOGE-USD', 'kraken XDGUSD']);
    expect(dogecoin.consensus?.sourceCount).toBe(4);
    const pegged = await quote('binance-peg-dogecoin');
    expect(pegged.sources.map((s) => s.source)).toEqual(['coingecko']);
    expect(pegged.consensus).toMatchObject({ price: pegged.price, sourceCount: 1, spreadPct: 0, outliers: [] });
  });

  it('btc and eur serve the BTC- and EUR-quoted pairs', async () => {
    const eth = await quote('ethereum', 'btc');
    expect(eth.sources.map((s) => `${s.source} ${s.pair}`)).toEqual(['coingecko ethereum', 'binance ETHBTC', 'coinbase ETH-BTC', 'kraken ETHXBT']);
    const prices = eth.sources.map((s) => s.price).sort((a, b) => a - b);
    expect(eth.consensus).toMatchObject({ price: (prices[1]! + prices[2]!) / 2, sourceCount: 4, outliers: [] });
    const btcEur = await quote('bitcoin', 'eur');
    expect(btcEur.sources.map((s) => `${s.source} ${s.pair}`)).toEqual(['coingecko bitcoin', 'binance BTCEUR', 'coinbase BTC-EUR', 'kraken XBTEUR']);
    // A coin priced in itself has no exchange pair: CoinGecko alone.
    expect((await quote('bitcoin', 'btc')).consensus).toMatchObject({ price: 1, sourceCount: 1, spreadPct: 0 });
  });

  it('fetchStatus lists every source, CoinGecko first, and the prices subgraph exports their health', async () => {
    const answer = await gql<{ fetchStatus: { lastSuccessAt: string; sources: { name: string; lastSuccessAt: string | null; lastError: string | null }[] } }>(
      api.url,
      '{ fetchStatus { lastSuccessAt sources { name lastSuccessAt lastError } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.fetchStatus.sources.map((s) => [s.name, s.lastError, s.lastSuccessAt !== null])).toEqual([
      ['coingecko', null, true],
      ['binance', null, true],
      ['coinbase', null, true],
      ['kraken', null, true],
    ]);
    const prices = api.service('prices').url;
    expect(await metric(prices, 'cryptoagg_source_last_run_success{source="kraken"}', -1)).toBe(1);
    expect(await metric(prices, 'cryptoagg_source_consecutive_failures{source="coinbase"}', -1)).toBe(0);
    expect(await metric(prices, 'cryptoagg_consensus_outlier_threshold_percent', -1)).toBe(2);
    expect(await metric(prices, 'cryptoagg_consensus_sources{coin="bitcoin",currency="usd"}', -1)).toBe(3);
    expect(await metric(prices, 'cryptoagg_consensus_spread_percent{coin="bitcoin",currency="usd"}', -1)).toBe(
      ((96_100 * usd('tether') - 96_050) / usd('bitcoin')) * 100,
    );
  });
});

describe('an exchange killed between two runs', () => {
  it('changes only its own status and the source count: the run succeeds, its quotes turn stale', async () => {
    expect((await quote('ethereum')).consensus?.sourceCount).toBe(4);
    await ex.coinbase.close();
    // The next run comes after the maximum age (600 s): what the first run stored is 20 minutes old by then.
    await t.db.raw(`update latest_source_quotes set time = time - interval '20 minutes'`);
    await t.db.raw(`update latest_quotes set fetched_at = fetched_at - interval '20 minutes'`);
    cg.setRound(1);
    ex.setRound(1);
    await fetch();
    expect((await t.db<FetchRunRow>('fetch_runs').orderBy('id')).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);

    await expect.poll(async () => (await quote('ethereum')).consensus?.sourceCount, { timeout: 5_000 }).toBe(3);
    const eth = await quote('ethereum');
    expect(eth.sources.filter((s) => s.stale).map((s) => `${s.source} ${s.pair}`)).toEqual(['coinbase ETH-USD', 'coinbase ETH-USDT']);

    const status = await gql<{ fetchStatus: { lastSuccessAt: string; sources: { name: string; lastSuccessAt: string | null; lastError: string | null }[] } }>(
      api.url,
      '{ fetchStatus { lastSuccessAt sources { name lastSuccessAt lastError } } }',
    );
    const byName = Object.fromEntries((status.data?.fetchStatus.sources ?? []).map((s) => [s.name, s]));
    expect(Object.keys(byName)).toEqual(['coingecko', 'binance', 'coinbase', 'kraken']);
    expect([byName.coingecko?.lastError, byName.binance?.lastError, byName.kraken?.lastError]).toEqual([null, null, null]);
    expect(byName.coinbase?.lastError).toMatch(/^GET \/products: network \(.*ECONNREFUSED/);
    // Its last success is the first run's; the others succeeded again in the second.
    expect(Date.parse(byName.coinbase?.lastSuccessAt ?? '')).toBeLessThan(Date.parse(byName.binance?.lastSuccessAt ?? ''));
    expect(Date.parse(byName.coinbase?.lastSuccessAt ?? '')).toBeLessThan(Date.parse(byName.kraken?.lastSuccessAt ?? ''));
    expect(byName.coingecko?.lastSuccessAt).toBe(status.data?.fetchStatus.lastSuccessAt);
    const prices = api.service('prices').url;
    expect(await metric(prices, 'cryptoagg_source_last_run_success{source="coinbase"}', -1)).toBe(0);
    expect(await metric(prices, 'cryptoagg_source_consecutive_failures{source="coinbase"}', -1)).toBe(1);
    expect(await metric(prices, 'cryptoagg_source_last_run_success{source="binance"}', -1)).toBe(1);
  });

  it('no fresh source at all: no consensus, every source shown stale', async () => {
    await t.db.raw(`update latest_source_quotes set time = time - interval '1 hour'`);
    await t.db.raw(`update latest_quotes set fetched_at = fetched_at - interval '1 hour'`);
    // The API's caches follow the data version, which any finished run moves (this one fails: CoinGecko unreachable).
    const failed = await runScript('jobs/fetcher/src/main.ts', {
      DATABASE_URL: t.url,
      COINGECKO_BASE_URL: 'http://127.0.0.1:9/api/v3',
      FETCH_RETRIES: '0',
      EXCHANGE_SOURCES: 'none',
      LOG_LEVEL: 'silent',
    });
    expect(failed.code).toBe(1);
    await expect.poll(async () => (await quote('ethereum')).consensus, { timeout: 5_000 }).toBeNull();
    expect((await quote('ethereum')).sources.every((s) => s.stale && !s.outlier)).toBe(true);
  });
});
