import { createLogger } from '@cryptoagg/core';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retainAfterRun } from '../src/retention.js';
import { verifyHistory, verifyRetention } from '../src/verify.js';

/*
 * What the retention records after each fetcher run (retention_status: the
 * CryptoaggRetentionBehind alert watches its last success) and what
 * `npm run verify` says about partitions the retention should have dropped.
 * The newest stored quote is from 2025-02-09 12:00 UTC: retention counts back
 * from there, whatever today is.
 */

let t: TestDatabase;
const logger = createLogger('retention-test', 'silent');
const NEWEST = new Date('2025-02-09T12:00:00Z');

interface Status {
  last_run_at: Date;
  last_success_at: Date | null;
  raw_days: number;
  hourly_days: number;
  last_error: string | null;
}
const status = () => t.db('retention_status').first<Status | undefined>('last_run_at', 'last_success_at', 'raw_days', 'hourly_days', 'last_error');
const partitions = async (parent: string) =>
  (
    await t.db.raw<{ rows: { name: string }[] }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = ?::regclass order by 1`,
      [parent],
    )
  ).rows
    .map((r) => r.name)
    // the migrations' own partitions, around today, are not due
    .filter((name) => /_202[45]_/.test(name));

beforeAll(async () => {
  t = await createTestDatabase('fetcher_retention');
  await t.db.raw(`select ensure_quote_snapshot_partitions('2024-09-01', '2025-02-28')`);
  await t.db('coins').insert({ id: 'bitcoin', symbol: 'btc', name: 'Bitcoin' });
  await t.db('latest_quotes').insert({ coin_id: 'bitcoin', currency: 'usd', last_updated: NEWEST, fetched_at: NEWEST, price: 1 });
});
afterAll(async () => {
  await t?.destroy();
});

describe('retention status and verify', () => {
  it('before any retention run, verify reports the partitions past the default retention (90 days raw, 730 hourly)', async () => {
    expect(await status()).toBeUndefined();
    expect(await verifyRetention(t.db)).toEqual([
      {
        kind: 'retention',
        coin: '*',
        currency: '*',
        detail:
          'quote_snapshots_2024_09 (2024-09-01T00:00:00.000Z .. 2024-10-01T00:00:00.000Z) is still kept, though it lies wholly before 2024-11-11T12:00:00.000Z, the 90-day retention of quote_snapshots (the defaults: the retention has not run yet)',
      },
      {
        kind: 'retention',
        coin: '*',
        currency: '*',
        detail:
          'quote_snapshots_2024_10 (2024-10-01T00:00:00.000Z .. 2024-11-01T00:00:00.000Z) is still kept, though it lies wholly before 2024-11-11T12:00:00.000Z, the 90-day retention of quote_snapshots (the defaults: the retention has not run yet)',
      },
    ]);
    // npm run verify counts them among its problems.
    expect((await verifyHistory(t.db, { days: 7, maxGapMinutes: 15 })).filter((p) => p.kind === 'retention')).toHaveLength(2);
  });

  it('a retention that drops everything due records its success and policy; verify then finds nothing', async () => {
    await retainAfterRun(t.db, { rawDays: 100, hourlyDays: 100 }, logger);
    expect(await partitions('quote_snapshots')).toEqual([
      'quote_snapshots_2024_11',
      'quote_snapshots_2024_12',
      'quote_snapshots_2025_01',
      'quote_snapshots_2025_02',
    ]);
    const s = await status();
    expect(s).toMatchObject({ raw_days: 100, hourly_days: 100, last_error: null });
    expect(s?.last_success_at?.getTime()).toBe(s?.last_run_at.getTime());
    // 62 days would be overdue for 2024-11, but verify judges by the policy the fetcher ran with.
    expect(await verifyRetention(t.db)).toEqual([]);
  });

  it('a partition it cannot drop (locked by a reader) keeps the last success where it was; verify names it until a later run drops it', async () => {
    const before = await status();
    const reader = new pg.Client({ connectionString: t.url });
    await reader.connect();
    try {
      await reader.query('begin');
      await reader.query('lock table quote_snapshots_2024_11 in access share mode');
      // 62 days back from 2025-02-09 12:00 is 2024-12-09 12:00: November is due, and locked.
      await retainAfterRun(t.db, { rawDays: 62, hourlyDays: 100 }, logger);
    } finally {
      await reader.query('rollback');
      await reader.end();
    }
    const failed = await status();
    expect(failed).toMatchObject({ raw_days: 62, hourly_days: 100, last_error: 'could not drop quote_snapshots_2024_11' });
    expect(failed?.last_success_at).toEqual(before?.last_success_at);
    expect(failed!.last_run_at.getTime()).toBeGreaterThan(before!.last_run_at.getTime());
    expect((await verifyRetention(t.db)).map((p) => p.detail)).toEqual([
      "quote_snapshots_2024_11 (2024-11-01T00:00:00.000Z .. 2024-12-01T00:00:00.000Z) is still kept, though it lies wholly before 2024-12-09T12:00:00.000Z, the 62-day retention of quote_snapshots (the fetcher's last retention run)",
    ]);

    await retainAfterRun(t.db, { rawDays: 62, hourlyDays: 100 }, logger);
    const recovered = await status();
    expect(recovered).toMatchObject({ raw_days: 62, last_error: null });
    expect(recovered!.last_success_at!.getTime()).toBeGreaterThan(before!.last_success_at!.getTime());
    expect(await partitions('quote_snapshots')).toEqual(['quote_snapshots_2024_12', 'quote_snapshots_2025_01', 'quote_snapshots_2025_02']);
    expect(await verifyRetention(t.db)).toEqual([]);
  }, 30_000);
});
