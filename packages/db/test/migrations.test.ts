import { createTestDatabase, runScript, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest, migrateRollbackAll, migrationConfig } from '../src/index.js';

const TABLES = [
  'backfill_progress',
  'coins',
  'fetch_runs',
  'latest_quotes',
  'latest_source_quotes',
  'market_listings',
  'quote_rollups_daily',
  'quote_rollups_hourly',
  'quote_snapshots',
  'retention_drops',
  'retention_status',
  'source_quotes',
  'source_runs',
];
const ALL = [
  '20261126000000_initial',
  '20261126120000_latest_quotes_without_fk',
  '20261203100000_utc_partitions',
  '20261203100100_metadata_failed_at',
  '20261203110000_market_listings',
  '20261203130000_history_rollups',
  '20261203140000_exchange_sources',
  '20261203150000_retention_status',
  '20261203150100_rollups_fillfactor',
];

/** The fetcher upserts coins first in the same transaction, so no table checks a foreign key per row. */
async function foreignKeys(t: TestDatabase): Promise<string[]> {
  const { rows } = await t.db.raw<{ rows: { conname: string }[] }>(`select conname from pg_constraint where contype = 'f'`);
  return rows.map((r) => r.conname);
}

async function tables(t: TestDatabase): Promise<string[]> {
  const { rows } = await t.db.raw<{ rows: { relname: string }[] }>(
    `select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and relkind in ('r', 'p') and not relispartition and relname not like 'knex%'
      order by relname`,
  );
  return rows.map((r) => r.relname);
}

describe('migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase('migrations', { migrate: false });
  });
  afterAll(() => t.destroy());

  it('creates the tables, rolls them all back, and re-applies cleanly', async () => {
    expect(await migrateLatest(t.db)).toEqual(ALL);
    expect(await tables(t)).toEqual(TABLES);
    expect(await foreignKeys(t)).toEqual([]);
    expect(await migrateLatest(t.db)).toEqual([]);

    expect(await migrateRollbackAll(t.db)).toEqual([...ALL].reverse());
    expect(await tables(t)).toEqual([]);

    expect(await migrateLatest(t.db)).toEqual(ALL);
    expect(await tables(t)).toEqual(TABLES);
  });

  it('partitions the history by month and keys a snapshot by coin, currency and last_updated', async () => {
    const { rows: keys } = await t.db.raw<{ rows: { def: string }[] }>(
      `select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'quote_snapshots'::regclass and contype = 'p'`,
    );
    expect(keys.map((k) => k.def)).toEqual(['PRIMARY KEY (coin_id, currency, last_updated)']);
    const { rows: strategy } = await t.db.raw<{ rows: { def: string }[] }>(`select pg_get_partkeydef('quote_snapshots'::regclass) as def`);
    expect(strategy[0]?.def).toBe('RANGE (last_updated)');

    // The migration creates last month to two months ahead; the function adds missing months on demand.
    const created = await t.db.raw<{ rows: { n: number }[] }>(`select ensure_quote_snapshot_partitions('2025-01-15T00:00:00Z', '2025-03-01T00:00:00Z') as n`);
    expect(created.rows[0]?.n).toBe(3);
    const again = await t.db.raw<{ rows: { n: number }[] }>(`select ensure_quote_snapshot_partitions('2025-01-15T00:00:00Z', '2025-03-01T00:00:00Z') as n`);
    expect(again.rows[0]?.n).toBe(0);
    const { rows: bounds } = await t.db.raw<{ rows: { bound: string }[] }>(
      `select pg_get_expr(c.relpartbound, c.oid) as bound from pg_class c where relname = 'quote_snapshots_2025_02'`,
    );
    expect(bounds[0]?.bound).toBe("FOR VALUES FROM ('2025-02-01 00:00:00+00') TO ('2025-03-01 00:00:00+00')");
  });

  it('serves a one-coin time range from the primary key index, touching only the months in range', async () => {
    await t.db.raw(`select ensure_quote_snapshot_partitions('2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z')`);
    await t.db.raw('set enable_seqscan = off');
    const { rows } = await t.db.raw<{ rows: { 'QUERY PLAN': string }[] }>(
      `explain select * from quote_snapshots
        where coin_id = 'bitcoin' and currency = 'usd' and last_updated between '2025-02-03' and '2025-02-20'`,
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('quote_snapshots_2025_02_pkey');
    expect(plan).not.toContain('quote_snapshots_2025_03');
  });

  it('`npm run migrate` applies pending migrations and is idempotent', async () => {
    const fresh = await createTestDatabase('migrate_cli', { migrate: false });
    try {
      const first = await runScript('packages/db/src/cli/migrate.ts', { DATABASE_URL: fresh.url });
      expect(first.code).toBe(0);
      expect(first.logs.at(-1)?.migrations).toEqual(ALL);
      const second = await runScript('packages/db/src/cli/migrate.ts', { DATABASE_URL: fresh.url });
      expect(second.code).toBe(0);
      expect(second.logs.at(-1)?.msg).toBe('database is up to date');
    } finally {
      await fresh.destroy();
    }
  });

  it('`npm run migrate -- rollback` rolls back the last batch only; everything takes an explicit --all, refused in production', async () => {
    const fresh = await createTestDatabase('migrate_rollback', { migrate: false });
    const migrate = (args: string[], extra: Record<string, string> = {}) =>
      runScript('packages/db/src/cli/migrate.ts', { DATABASE_URL: fresh.url, ...extra }, 60_000, args);
    const applied = async () =>
      (await fresh.db('knex_migrations').orderBy('id').select('name', 'batch')).map((r: { name: string; batch: number }) => `${r.batch}:${r.name}`);
    try {
      // Batches 1 and 2 one migration each, then `latest` applies the rest as batch 3.
      await fresh.db.migrate.up(migrationConfig);
      await fresh.db.migrate.up(migrationConfig);
      expect((await migrate([])).code).toBe(0);
      expect(await applied()).toEqual(ALL.map((name, i) => `${Math.min(i + 1, 3)}:${name}`));

      const last = await migrate(['rollback']);
      expect(last.code).toBe(0);
      expect(last.logs.at(-1)?.migrations).toEqual(ALL.slice(2).reverse());
      expect(await applied()).toEqual([`1:${ALL[0]}`, `2:${ALL[1]}`]);
      expect(await tables(fresh)).toEqual(['coins', 'fetch_runs', 'latest_quotes', 'quote_snapshots']);

      const refused = await migrate(['rollback', '--all'], { NODE_ENV: 'production' });
      expect(refused.code).toBe(1);
      expect(refused.stdout.trim().split('\n')).toHaveLength(1);
      expect(refused.logs[0]?.msg).toBe('refusing "rollback --all" with NODE_ENV=production: it drops every table; roll back one batch at a time instead');
      expect(await applied()).toEqual([`1:${ALL[0]}`, `2:${ALL[1]}`]);

      const unknown = await migrate(['rollback', '--everything']);
      expect(unknown.code).toBe(1);
      expect(unknown.logs[0]?.msg).toBe(
        'unknown arguments "rollback --everything": use "latest" (the default), "rollback" (the last batch) or "rollback --all"',
      );

      const all = await migrate(['rollback', '--all']);
      expect(all.code).toBe(0);
      expect(all.logs.at(-1)?.migrations).toEqual([ALL[1], ALL[0]]);
      expect(await tables(fresh)).toEqual([]);
    } finally {
      await fresh.destroy();
    }
  });

  it('rolling back the UTC partitions migration restores the first function, and re-applying it fixes the bounds again', async () => {
    const fresh = await createTestDatabase('migrate_utc', { migrate: false });
    try {
      await migrateLatest(fresh.db);
      const berlinBounds = async (month: string) => {
        const { rows } = await fresh.db.transaction(async (trx) => {
          await trx.raw(`set local time zone 'Europe/Berlin'`);
          await trx.raw(`select ensure_quote_snapshot_partitions(?::timestamptz, ?::timestamptz)`, [`${month}-15T00:00:00Z`, `${month}-15T00:00:00Z`]);
          await trx.raw(`set local time zone 'UTC'`);
          return trx.raw<{ rows: { bound: string }[] }>(`select pg_get_expr(relpartbound, oid) as bound from pg_class where relname = ?`, [
            `quote_snapshots_${month.replace('-', '_')}`,
          ]);
        });
        return rows[0]?.bound;
      };
      // March: Berlin moves its clocks on the last Sunday, so a month in Berlin time is not a UTC month.
      expect(await berlinBounds('2022-03')).toBe("FOR VALUES FROM ('2022-03-01 00:00:00+00') TO ('2022-04-01 00:00:00+00')");
      // Down to the first version: every migration newer than 20261126120000 rolled back, one at a time.
      while ((await fresh.db.migrate.currentVersion(migrationConfig)) !== '20261126120000') await fresh.db.migrate.down(migrationConfig);
      expect(await berlinBounds('2023-03')).toBe("FOR VALUES FROM ('2023-03-01 00:00:00+00') TO ('2023-03-31 23:00:00+00')");
      await migrateLatest(fresh.db);
      expect(await berlinBounds('2024-03')).toBe("FOR VALUES FROM ('2024-03-01 00:00:00+00') TO ('2024-04-01 00:00:00+00')");
    } finally {
      await fresh.destroy();
    }
  });
});
