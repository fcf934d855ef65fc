import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * ensure_quote_snapshot_partitions on a session whose TimeZone is not UTC:
 * Europe/Berlin is UTC+1 in winter and UTC+2 from the last Sunday of March
 * (2026-03-29) to the last Sunday of October (2026-10-25).
 */
let t: TestDatabase;
let berlin: pg.Client;

beforeAll(async () => {
  t = await createTestDatabase('partitions');
  berlin = new pg.Client({ connectionString: t.url });
  await berlin.connect();
  await berlin.query(`set time zone 'Europe/Berlin'`);
});
afterAll(async () => {
  await berlin.end();
  await t.destroy();
});

/** Each partition's bounds as PostgreSQL prints them in a UTC session (the knex pool's). */
async function bounds(): Promise<Record<string, string>> {
  const { rows } = await t.db.raw<{ rows: { name: string; bound: string }[] }>(
    `select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
       from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'quote_snapshots'::regclass
      order by c.relname`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.bound]));
}

const range = (from: string, to: string) => `FOR VALUES FROM ('${from} 00:00:00+00') TO ('${to} 00:00:00+00')`;

describe('monthly partitions on a Europe/Berlin session', () => {
  it('abut exactly at UTC midnight of the 1st across a month boundary and both DST changes', async () => {
    const { rows } = await berlin.query<{ created: number }>(
      `select ensure_quote_snapshot_partitions('2026-02-15T12:00:00Z', '2026-10-25T01:30:00Z') as created`,
    );
    expect(rows[0]?.created).toBe(9);
    const all = await bounds();
    expect(all).toMatchObject({
      quote_snapshots_2026_02: range('2026-02-01', '2026-03-01'),
      quote_snapshots_2026_03: range('2026-03-01', '2026-04-01'),
      quote_snapshots_2026_04: range('2026-04-01', '2026-05-01'),
      quote_snapshots_2026_09: range('2026-09-01', '2026-10-01'),
      quote_snapshots_2026_10: range('2026-10-01', '2026-11-01'),
    });
    // No gap, no overlap: each month's partition starts exactly where the one before it ends.
    const months = ['02', '03', '04', '05', '06', '07', '08', '09', '10'].map((m) => all[`quote_snapshots_2026_${m}`] ?? '');
    for (let i = 1; i < months.length; i++) {
      const previousEnd = /TO \('([^']+)'\)/.exec(months[i - 1]!)?.[1];
      const start = /FROM \('([^']+)'\)/.exec(months[i]!)?.[1];
      expect(start).toBe(previousEnd);
      expect(start).toMatch(/^2026-\d\d-01 00:00:00\+00$/);
    }
  });

  it('stores a snapshot at 2026-03-31T23:30:00Z (already April in Berlin) in the March partition, and the DST hours in theirs', async () => {
    await berlin.query(`select ensure_quote_snapshot_partitions('2026-03-01T00:00:00Z', '2026-10-31T00:00:00Z')`);
    const times = [
      '2026-03-31T23:30:00Z',
      '2026-04-01T00:00:00Z',
      '2026-03-29T01:30:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:30:00Z',
      '2026-10-31T23:59:59.999Z',
    ];
    const { rows } = await berlin.query<{ at: Date; partition: string }>(
      `insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price)
       select 'bitcoin', 'usd', t, now(), 1 from unnest($1::timestamptz[]) as t
       returning last_updated as at, tableoid::regclass::text as partition`,
      [times],
    );
    expect(rows.map((r) => [r.at.toISOString(), r.partition])).toEqual([
      ['2026-03-31T23:30:00.000Z', 'quote_snapshots_2026_03'],
      ['2026-04-01T00:00:00.000Z', 'quote_snapshots_2026_04'],
      ['2026-03-29T01:30:00.000Z', 'quote_snapshots_2026_03'],
      ['2026-10-25T00:30:00.000Z', 'quote_snapshots_2026_10'],
      ['2026-10-25T01:30:00.000Z', 'quote_snapshots_2026_10'],
      ['2026-10-31T23:59:59.999Z', 'quote_snapshots_2026_10'],
    ]);
  });

  it('refuses a range of more than 120 months (a year-9999 date) and creates nothing', async () => {
    const before = Object.keys(await bounds());
    await expect(berlin.query(`select ensure_quote_snapshot_partitions('2026-12-03T00:00:00Z', '9999-12-31T00:00:00Z')`)).rejects.toThrow(
      /refusing to create the monthly partitions from .* to .*: more than 120 months at once/,
    );
    expect(Object.keys(await bounds())).toEqual(before);
    const { rows } = await berlin.query<{ created: number }>(
      `select ensure_quote_snapshot_partitions('2030-01-01T00:00:00Z', '2039-12-31T00:00:00Z') as created`,
    );
    expect(rows[0]?.created).toBe(120);
  });
});
