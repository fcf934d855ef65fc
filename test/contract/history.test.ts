import { type Api, createTestDatabase, gql, OPERATIONS, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let t: TestDatabase;
let api: Api;

/** [last_updated, price]; market cap and volume derive from the price so every column is checked. */
const USD: [string, number][] = [
  ['2026-01-01T00:05:00.000Z', 1],
  ['2026-01-01T00:35:00.000Z', 2],
  ['2026-01-01T00:59:59.999Z', 3],
  ['2026-01-01T01:00:00.000Z', 4],
  ['2026-01-01T03:10:00.000Z', 5],
  ['2026-01-02T00:00:00.000Z', 6],
  ['2026-01-02T23:30:00.000Z', 7],
];

beforeAll(async () => {
  t = await createTestDatabase('contract_history');
  await t.db.raw(`select ensure_quote_snapshot_partitions('2026-01-01', '2026-03-01')`);
  await t.db('coins').insert([
    { id: 'histcoin', symbol: 'hst', name: 'History Coin', market_cap_rank: 1 },
    { id: 'busycoin', symbol: 'bsy', name: 'Busy Coin', market_cap_rank: 2 },
  ]);
  const snapshot = (coin_id: string, currency: string, time: string, price: number) => ({
    coin_id,
    currency,
    last_updated: time,
    fetched_at: time,
    price,
    market_cap: price * 1000,
    total_volume: price === 3 ? null : price * 10,
  });
  await t
    .db('quote_snapshots')
    .insert([...USD.map(([time, price]) => snapshot('histcoin', 'usd', time, price)), snapshot('histcoin', 'eur', '2026-01-01T00:10:00.000Z', 100)]);
  // 10,001 one-minute snapshots: one more than a RAW answer may hold.
  await t.db.raw(
    `insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price)
     select 'busycoin', 'usd', ts, ts, 1 from generate_series(timestamptz '2026-02-01', timestamptz '2026-02-01' + interval '10000 minutes', interval '1 minute') ts`,
  );
  api = await startApi({ DATABASE_URL: t.url });
});
afterAll(async () => {
  await api.stop();
  await t.destroy();
});

async function history(variables: Record<string, unknown>) {
  const res = await gql<{ coin: { id: string; history: { time: string; price: number; marketCap: number | null; totalVolume: number | null }[] } | null }>(
    api.url,
    OPERATIONS,
    { id: 'histcoin', currency: 'usd', ...variables },
    'CoinHistory',
  );
  expect(res.errors).toBeUndefined();
  return res.data?.coin?.history.map((p) => [p.time, p.price, p.marketCap, p.totalVolume]);
}

const point = (time: string, price: number) => [time, price, price * 1000, price === 3 ? null : price * 10];

describe('CoinHistory', () => {
  it('RAW: every snapshot with from <= last_updated <= to, ascending, inclusive at both ends', async () => {
    expect(await history({ from: '2026-01-01T00:35:00Z', to: '2026-01-01T01:00:00Z', interval: 'RAW' })).toEqual([
      point('2026-01-01T00:35:00.000Z', 2),
      point('2026-01-01T00:59:59.999Z', 3),
      point('2026-01-01T01:00:00.000Z', 4),
    ]);
    // RAW is the default interval, also when it is passed as null.
    expect(await history({ from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' })).toEqual(USD.map(([time, price]) => point(time, price)));
    expect(await history({ from: '2026-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z', interval: null })).toHaveLength(USD.length);
  });

  it("HOUR: one point per UTC hour with data, the hour's last snapshot, timed at the hour", async () => {
    expect(await history({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T23:59:59Z', interval: 'HOUR' })).toEqual([
      point('2026-01-01T00:00:00.000Z', 3),
      point('2026-01-01T01:00:00.000Z', 4),
      point('2026-01-01T03:00:00.000Z', 5),
      point('2026-01-02T00:00:00.000Z', 6),
      point('2026-01-02T23:00:00.000Z', 7),
    ]);
    // A bucket counts when its start lies in [from, to]: 00:00 starts before 00:30.
    expect(await history({ from: '2026-01-01T00:30:00Z', to: '2026-01-01T03:00:00Z', interval: 'HOUR' })).toEqual([
      point('2026-01-01T01:00:00.000Z', 4),
      point('2026-01-01T03:00:00.000Z', 5),
    ]);
  });

  it('DAY: one point per UTC day, whatever offset the range is given in', async () => {
    expect(await history({ from: '2026-01-01T01:00:00+01:00', to: '2026-01-03T00:59:59+01:00', interval: 'DAY' })).toEqual([
      point('2026-01-01T00:00:00.000Z', 5),
      point('2026-01-02T00:00:00.000Z', 7),
    ]);
  });

  it('keeps currencies apart, answers [] for an empty range and null for an unknown coin', async () => {
    expect(await history({ currency: 'eur', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' })).toEqual([
      ['2026-01-01T00:10:00.000Z', 100, 100_000, 1000],
    ]);
    expect(await history({ from: '2025-01-01T00:00:00Z', to: '2025-12-31T00:00:00Z', interval: 'HOUR' })).toEqual([]);
    const unknown = await gql(api.url, OPERATIONS, { id: 'nope', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, 'CoinHistory');
    expect(unknown).toEqual({ status: 200, data: { coin: null } });
  });

  it('refuses more than 10,000 points, counted from what is stored, with a hint', async () => {
    const raw = await gql(api.url, OPERATIONS, { id: 'busycoin', from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z', interval: 'RAW' }, 'CoinHistory');
    expect(raw.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(raw.errors?.[0]?.message).toBe('interval: the answer would hold more than 10,000 points; use a coarser interval (HOUR or DAY) or a shorter range');
    // The same data one minute shorter is exactly 10,000 points: answered.
    const exact = await gql<{ coin: { history: unknown[] } }>(
      api.url,
      OPERATIONS,
      { id: 'busycoin', from: '2026-02-01T00:01:00Z', to: '2026-03-01T00:00:00Z', interval: 'RAW' },
      'CoinHistory',
    );
    expect(exact.data?.coin.history).toHaveLength(10_000);
    const hourly = await gql<{ coin: { history: unknown[] } }>(
      api.url,
      OPERATIONS,
      { id: 'busycoin', from: '2026-02-01T00:00:00Z', to: '2026-03-01T00:00:00Z', interval: 'HOUR' },
      'CoinHistory',
    );
    expect(hourly.data?.coin.history).toHaveLength(167);
    // A century-long range with little data is fine: the limit counts points, not the range's length.
    expect(await history({ from: '1970-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z', interval: 'RAW' })).toHaveLength(USD.length);
  });
});
