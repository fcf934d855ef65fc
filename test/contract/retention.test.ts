import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, metric, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Retention after a fetcher run (contract section 9): the fake's data is from
 * 2025-02-09, so with RETENTION_RAW_DAYS=90 the snapshot partitions that end
 * by 2024-11-11 go, and with RETENTION_HOURLY_DAYS=100 the hourly rollups'
 * partitions that end by 2024-11-01. HOUR / DAY history and candles keep what
 * their rollups hold; RAW history answers what is kept.
 */

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;

/** Old snapshots of bitcoin in usd: three a day at 06:00, 12:30 and 18:45 UTC, from September to December 2024. */
const OLD_DAYS = Array.from({ length: 122 }, (_, i) => Date.UTC(2024, 8, 1) + i * 86_400_000);

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 5 }), createTestDatabase('contract_retention')]);
  await t.db.raw(`select ensure_quote_snapshot_partitions('2024-09-01', '2024-12-31')`);
  await t.db('coins').insert({ id: 'bitcoin', symbol: 'btc', name: 'Bitcoin' });
  await t.db('quote_snapshots').insert(
    OLD_DAYS.flatMap((day, d) =>
      [6 * 60, 12 * 60 + 30, 18 * 60 + 45].map((minute, i) => {
        const at = new Date(day + minute * 60_000);
        return {
          coin_id: 'bitcoin',
          currency: 'usd',
          last_updated: at,
          fetched_at: at,
          price: 50_000 + d * 10 + i,
          market_cap: 1e12 + d,
          total_volume: 1e9 + i,
        };
      }),
    ),
  );
  api = await startApi({ DATABASE_URL: t.url, CACHE_ENABLED: 'false', RESPONSE_CACHE_TTL_MS: '0' });
});
afterAll(async () => {
  await api.stop();
  await Promise.all([fake.close(), t.destroy()]);
});

const fetchEnv = () => ({
  DATABASE_URL: t.url,
  COINGECKO_BASE_URL: fake.url,
  COINGECKO_RATE_LIMIT_PER_MIN: '10000',
  FETCH_MAX_COINS: '5',
  FETCH_METADATA_PER_RUN: '0',
  RETENTION_RAW_DAYS: '90',
  RETENTION_HOURLY_DAYS: '100',
  LOG_LEVEL: 'info',
});

const RANGE = { id: 'bitcoin', currency: 'usd', from: '2024-09-01T00:00:00Z', to: '2024-12-31T23:59:59Z' };
const CANDLES = `query($id: ID!, $from: DateTime!, $to: DateTime!) { coin(id: $id) { candles(interval: DAY, from: $from, to: $to) { time open high low close volume samples } } }`;

async function answers() {
  const history = async (interval: string) => {
    const res = await gql<{ coin: { history: { time: string }[] } }>(api.url, OPERATIONS, { ...RANGE, interval }, 'CoinHistory');
    expect(res.errors).toBeUndefined();
    return res.data!.coin.history;
  };
  const candles = await gql<{ coin: { candles: unknown[] } }>(api.url, CANDLES, RANGE);
  expect(candles.errors).toBeUndefined();
  return { raw: await history('RAW'), hour: await history('HOUR'), day: await history('DAY'), candles: candles.data!.coin.candles };
}

const partitions = async (parent: string) =>
  (
    await t.db.raw<{ rows: { name: string }[] }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = ?::regclass and c.relname like '%_2024_%' order by 1`,
      [parent],
    )
  ).rows.map((r) => r.name);

describe('retention after a successful fetcher run', () => {
  it('drops whole old partitions, logs and counts them, keeps HOUR / DAY and candles from the rollups, and is idempotent', async () => {
    const before = await answers();
    expect(before.raw).toHaveLength(OLD_DAYS.length * 3);
    expect(before.day).toHaveLength(OLD_DAYS.length);
    expect(before.hour).toHaveLength(OLD_DAYS.length * 3);
    expect(await metric(api.service('prices').url, 'cryptoagg_retention_partitions_dropped{table="quote_snapshots"}', -1)).toBe(0);

    const run = await runScript('jobs/fetcher/src/main.ts', fetchEnv());
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.logs.filter((l) => l.msg === 'retention dropped a partition').map((l) => `${String(l.table)} ${String(l.partition)}`)).toEqual([
      'quote_snapshots quote_snapshots_2024_09',
      'quote_snapshots quote_snapshots_2024_10',
      'quote_rollups_hourly quote_rollups_hourly_2024_09',
      'quote_rollups_hourly quote_rollups_hourly_2024_10',
    ]);
    expect(await partitions('quote_snapshots')).toEqual(['quote_snapshots_2024_11', 'quote_snapshots_2024_12']);
    expect(await partitions('quote_rollups_hourly')).toEqual(['quote_rollups_hourly_2024_11', 'quote_rollups_hourly_2024_12']);

    const after = await answers();
    const kept = (points: { time: string }[]) => points.filter((p) => p.time >= '2024-11-01');
    expect(after.day).toEqual(before.day);
    expect(after.candles).toEqual(before.candles);
    expect(after.hour).toEqual(kept(before.hour));
    expect(after.raw).toEqual(kept(before.raw));
    expect(after.raw).toHaveLength(61 * 3);

    const prices = api.service('prices').url;
    expect(await metric(prices, 'cryptoagg_retention_partitions_dropped{table="quote_snapshots"}')).toBe(2);
    expect(await metric(prices, 'cryptoagg_retention_partitions_dropped{table="quote_rollups_hourly"}')).toBe(2);

    fake.setRound(1);
    const again = await runScript('jobs/fetcher/src/main.ts', fetchEnv());
    expect(again.code).toBe(0);
    expect(again.logs.filter((l) => l.msg === 'retention dropped a partition')).toEqual([]);
    expect(await t.db('retention_drops').count<{ count: number }[]>('* as count')).toEqual([{ count: 4 }]);
    expect(await answers()).toEqual(after);
  });
});
