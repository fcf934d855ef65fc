import { type Api, createTestDatabase, gql, metric, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Coin.candles (contract section 9) through the gateway. */

let t: TestDatabase;
let api: Api;

/** [last_updated, price, total_volume] of one coin in usd. */
const USD: [string, number, number | null][] = [
  ['2026-01-01T00:05:00.000Z', 10, 100],
  ['2026-01-01T00:35:00.000Z', 12, 120],
  ['2026-01-01T00:45:00.000Z', 8, 80],
  ['2026-01-01T00:59:59.999Z', 11, null],
  ['2026-01-01T01:00:00.000Z', 20, 200],
  ['2026-01-01T23:59:00.000Z', 30, 300],
  ['2026-01-02T00:00:00.000Z', 40, 400],
];

beforeAll(async () => {
  t = await createTestDatabase('contract_candles');
  await t.db.raw(`select ensure_quote_snapshot_partitions('2024-01-01', '2026-02-01')`);
  await t.db('coins').insert([
    { id: 'candlecoin', symbol: 'cdl', name: 'Candle Coin', market_cap_rank: 1 },
    { id: 'longcoin', symbol: 'lng', name: 'Long Coin', market_cap_rank: 2 },
  ]);
  // Out of order on purpose: open and close follow last_updated, not arrival.
  for (const [time, price, volume] of [...USD].reverse()) {
    await t
      .db('quote_snapshots')
      .insert({ coin_id: 'candlecoin', currency: 'usd', last_updated: time, fetched_at: time, price, market_cap: price * 1000, total_volume: volume });
  }
  await t
    .db('quote_snapshots')
    .insert({ coin_id: 'candlecoin', currency: 'eur', last_updated: '2026-01-01T00:10:00Z', fetched_at: '2026-01-01T00:10:00Z', price: 9 });
  // 10,001 hourly snapshots: one more hourly candle than an answer may hold.
  await t.db.raw(
    `insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price)
     select 'longcoin', 'usd', ts, ts, 1 from generate_series(timestamptz '2024-01-01', timestamptz '2024-01-01' + interval '10000 hours', interval '1 hour') ts`,
  );
  api = await startApi({ DATABASE_URL: t.url, RESPONSE_CACHE_TTL_MS: '0' });
});
afterAll(async () => {
  await api.stop();
  await t.destroy();
});

const QUERY = `query($id: ID!, $currency: String, $interval: CandleInterval, $from: DateTime!, $to: DateTime!) {
  coin(id: $id) { candles(currency: $currency, interval: $interval, from: $from, to: $to) { time open high low close volume samples } } }`;

async function candles(variables: Record<string, unknown>) {
  const res = await gql<{ coin: { candles: Record<string, unknown>[] } | null }>(api.url, QUERY, { id: 'candlecoin', ...variables });
  expect(res.errors).toBeUndefined();
  return res.data?.coin?.candles.map((c) => [c.time, c.open, c.high, c.low, c.close, c.volume, c.samples]);
}

describe('Coin.candles', () => {
  it('HOUR (the default): open, high, low, close, the last volume and the sample count of each UTC hour with data', async () => {
    expect(await candles({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' })).toEqual([
      ['2026-01-01T00:00:00.000Z', 10, 12, 8, 11, null, 4],
      ['2026-01-01T01:00:00.000Z', 20, 20, 20, 20, 200, 1],
      ['2026-01-01T23:00:00.000Z', 30, 30, 30, 30, 300, 1],
      ['2026-01-02T00:00:00.000Z', 40, 40, 40, 40, 400, 1],
    ]);
    // A candle counts when its bucket starts in [from, to]: 00:00 starts before 00:30.
    expect(await candles({ interval: 'HOUR', from: '2026-01-01T00:30:00Z', to: '2026-01-01T23:00:00Z' })).toEqual([
      ['2026-01-01T01:00:00.000Z', 20, 20, 20, 20, 200, 1],
      ['2026-01-01T23:00:00.000Z', 30, 30, 30, 30, 300, 1],
    ]);
  });

  it('DAY: one candle per UTC day, whatever offset the range is given in; currencies apart; [] and null where there is nothing', async () => {
    expect(await candles({ interval: 'DAY', from: '2026-01-01T01:00:00+01:00', to: '2026-01-02T01:00:00+01:00' })).toEqual([
      ['2026-01-01T00:00:00.000Z', 10, 30, 8, 30, 300, 6],
      ['2026-01-02T00:00:00.000Z', 40, 40, 40, 40, 400, 1],
    ]);
    expect(await candles({ currency: 'eur', interval: 'DAY', from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' })).toEqual([
      ['2026-01-01T00:00:00.000Z', 9, 9, 9, 9, null, 1],
    ]);
    expect(await candles({ from: '2025-01-01T00:00:00Z', to: '2025-12-31T00:00:00Z' })).toEqual([]);
    expect(await gql(api.url, QUERY, { id: 'nope', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' })).toEqual({ status: 200, data: { coin: null } });
  });

  it('refuses more than 10,000 candles, counted from what is stored, with a hint; answers exactly 10,000', async () => {
    const long = (interval: string, from: string) =>
      gql<{ coin: { candles: unknown[] } }>(api.url, QUERY, { id: 'longcoin', interval, from, to: '2030-01-01T00:00:00Z' });
    const refused = await long('HOUR', '2024-01-01T00:00:00Z');
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toBe('interval: the answer would hold more than 10,000 candles; use DAY or a shorter range');
    expect((await long('HOUR', '2024-01-01T00:00:01Z')).data?.coin.candles).toHaveLength(10_000);
    expect((await long('DAY', '2024-01-01T00:00:00Z')).data?.coin.candles).toHaveLength(417);
  });

  it('refuses bad arguments naming them', async () => {
    const error = async (variables: Record<string, unknown>) => {
      const res = await gql(api.url, QUERY, { id: 'candlecoin', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', ...variables });
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      return res.errors?.[0]?.message;
    };
    expect(await error({ from: '2026-01-03T00:00:00Z' })).toBe('from: must not be after to (from 2026-01-03T00:00:00.000Z, to 2026-01-02T00:00:00.000Z)');
    expect(await error({ currency: 'gbp' })).toMatch(/^currency: /);
    expect(await error({ to: 'later' })).toBe('to: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "later"');
    expect(await error({ interval: 'MINUTE' })).toMatch(/CandleInterval/);
  });

  it('is cached like history: a repeated query reads no SQL', async () => {
    const prices = api.service('prices').url;
    const variables = { interval: 'DAY', from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' };
    await candles(variables);
    const queries = await metric(prices, 'cryptoagg_db_query_duration_seconds_count{outcome="success"}');
    const hits = await metric(prices, 'cryptoagg_cache_requests_total{result="hit"}');
    expect(await candles(variables)).toHaveLength(2);
    expect(await metric(prices, 'cryptoagg_db_query_duration_seconds_count{outcome="success"}')).toBe(queries);
    expect(await metric(prices, 'cryptoagg_cache_requests_total{result="hit"}')).toBe(hits + 1);
  });

  it('counts at 10,000 candles in the size limit: 10 lists answered, 11 refused before execution', async () => {
    const field = 'candles(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { time }';
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `c${i}: coin(id: "candlecoin") { ${field} }`).join(' ')} }`;
    expect((await gql(api.url, aliases(10))).errors).toBeUndefined();
    const refused = await gql(api.url, aliases(11));
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(refused.errors?.[0]?.message).toMatch(/^query too large: it could return 110,000 items, the limit is 100,000/);
  });
});
