import { createTestDatabase, runScript, type TestDatabase } from '@cryptoagg/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest, migrateRollbackAll } from '../src/index.js';

const TABLES = ['coins', 'fetch_runs', 'latest_quotes', 'quote_snapshots'];
const ALL = ['20261126000000_initial', '20261126120000_latest_quotes_without_fk'];

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
    const { rows: strategy } = await t.db.raw<{ rows: { def: string }[] }>(
      `select pg_get_partkeydef('quote_snapshots'::regclass) as def`,
    );
    expect(strategy[0]?.def).toBe('RANGE (last_updated)');

    // The migration creates last month to two months ahead; the function adds missing months on demand.
    const created = await t.db.raw<{ rows: { n: number }[] }>(
      `select ensure_quote_snapshot_partitions('2025-01-15T00:00:00Z', '2025-03-01T00:00:00Z') as n`,
    );
    expect(created.rows[0]?.n).toBe(3);
    const again = await t.db.raw<{ rows: { n: number }[] }>(
      `select ensure_quote_snapshot_partitions('2025-01-15T00:00:00Z', '2025-03-01T00:00:00Z') as n`,
    );
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
});
