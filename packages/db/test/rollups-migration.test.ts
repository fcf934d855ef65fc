import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrationConfig } from '../src/index.js';

/** The upgrade to rollups on a database that already holds history: the migration builds them from what is stored. */
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase('rollups_migration', { migrate: false });
});
afterAll(() => t.destroy());

it('builds the hourly and daily rollups of the stored snapshots, with the hourly partitions of their months, and rolls back cleanly', async () => {
  while ((await t.db.migrate.currentVersion(migrationConfig)) !== '20261203110000') await t.db.migrate.up(migrationConfig);
  await t.db.raw(`select ensure_quote_snapshot_partitions('2025-01-01', '2025-02-28')`);
  await t.db('quote_snapshots').insert(
    [
      ['2025-01-31T23:10:00Z', 3],
      ['2025-01-31T23:50:00Z', 1],
      ['2025-02-01T00:05:00Z', 2],
    ].map(([at, price]) => ({
      coin_id: 'bitcoin',
      currency: 'usd',
      last_updated: at,
      fetched_at: at,
      price,
      market_cap: Number(price) * 10,
      total_volume: null,
    })),
  );

  await t.db.migrate.up(migrationConfig);
  expect(await t.db.migrate.currentVersion(migrationConfig)).toBe('20261203130000');
  const rows = async (table: string) =>
    (await t.db(table).orderBy('bucket')).map((r: Record<string, unknown>) => [
      (r.bucket as Date).toISOString(),
      r.open,
      r.high,
      r.low,
      r.close,
      r.market_cap,
      r.total_volume,
      r.samples,
    ]);
  expect(await rows('quote_rollups_hourly')).toEqual([
    ['2025-01-31T23:00:00.000Z', 3, 3, 1, 1, 10, null, 2],
    ['2025-02-01T00:00:00.000Z', 2, 2, 2, 2, 20, null, 1],
  ]);
  expect(await rows('quote_rollups_daily')).toEqual([
    ['2025-01-31T00:00:00.000Z', 3, 3, 1, 1, 10, null, 2],
    ['2025-02-01T00:00:00.000Z', 2, 2, 2, 2, 20, null, 1],
  ]);
  const { rows: partitions } = await t.db.raw<{ rows: { name: string }[] }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'quote_rollups_hourly'::regclass and c.relname like '%2025%' order by 1`,
  );
  expect(partitions.map((p) => p.name)).toEqual(['quote_rollups_hourly_2025_01', 'quote_rollups_hourly_2025_02']);
  // Every stored snapshot is the fetcher's.
  expect(await t.db('quote_snapshots').distinct('source')).toEqual([{ source: 'fetcher' }]);

  await t.db.migrate.down(migrationConfig);
  const { rows: left } = await t.db.raw<{ rows: { name: string }[] }>(
    `select relname as name from pg_class where relname like 'quote_rollups%' or relname in ('retention_drops', 'backfill_progress')`,
  );
  expect(left).toEqual([]);
  const { rows: columns } = await t.db.raw<{ rows: unknown[] }>(
    `select from information_schema.columns where table_name = 'quote_snapshots' and column_name = 'source'`,
  );
  expect(columns).toEqual([]);
  // Partitions come back without their hourly twins.
  const { rows: created } = await t.db.raw<{ rows: { n: number }[] }>(`select ensure_quote_snapshot_partitions('2025-03-01', '2025-03-01') as n`);
  expect(created[0]?.n).toBe(1);
});
