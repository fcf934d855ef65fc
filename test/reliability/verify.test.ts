import { createTestDatabase, runScript, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let t: TestDatabase;
const now = Date.now() - (Date.now() % 60_000);
const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
const iso = (minutesAgo: number) => at(minutesAgo).toISOString();

beforeAll(async () => {
  t = await createTestDatabase('verify');
});
afterAll(() => t.destroy());

const snapshot = (coin_id: string, updatedAgo: number, fetchedAgo: number) => ({
  coin_id,
  currency: 'usd',
  last_updated: at(updatedAgo),
  fetched_at: at(fetchedAgo),
  price: 1,
});

it('`npm run verify` reports nothing on consistent history', async () => {
  await t.db('coins').insert([{ id: 'clean', symbol: 'c', name: 'Clean' }]);
  await t.db('quote_snapshots').insert([snapshot('clean', 15, 14), snapshot('clean', 10, 9), snapshot('clean', 5, 4)]);
  await t.db('latest_quotes').insert(snapshot('clean', 5, 4));
  const result = await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url });
  expect(result.stdout).toContain('checked 3 snapshots of the last 7 day(s); a gap is over 15 min');
  expect(result.stdout).toContain('no problems found');
  expect(result.code).toBe(0);
});

it('`npm run verify` reports a seeded gap, a duplicate, a non-monotonic pair and a stale latest quote, and exits 1', async () => {
  await t.db('coins').insert([
    { id: 'gappy', symbol: 'g', name: 'Gappy' },
    { id: 'twice', symbol: 't', name: 'Twice' },
  ]);
  await t.db('quote_snapshots').insert([
    // 30 minutes without a snapshot.
    snapshot('gappy', 60, 59),
    snapshot('gappy', 55, 54),
    snapshot('gappy', 25, 24),
    // Two snapshots from one fetch (fetched 9 min ago), the later of them received before the earlier.
    snapshot('twice', 12, 9),
    snapshot('twice', 11, 9),
    snapshot('twice', 10, 11),
  ]);
  await t.db('latest_quotes').insert([snapshot('gappy', 55, 54), snapshot('twice', 10, 11)]);

  const result = await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url });
  expect(result.code).toBe(1);
  expect(result.stdout.split('\n')).toEqual([
    'checked 9 snapshots of the last 7 day(s); a gap is over 15 min',
    'gap: 1',
    `  gappy usd: no snapshot for 30 min: ${iso(55)} -> ${iso(25)}`,
    'duplicate: 1',
    `  twice usd: 2 snapshots from the fetch at ${iso(9)}`,
    'non-monotonic: 1',
    `  twice usd: upstream time ${iso(10)} was received at ${iso(11)}, before the earlier ${iso(11)} (received ${iso(9)})`,
    'stale-latest: 1',
    `  gappy usd: latest quote is from ${iso(55)} but a snapshot from ${iso(25)} is stored`,
    'rollup: 0',
    'retention: 0',
    '4 problem(s) found',
    '',
  ]);

  // A wider gap allowance drops the gap; the JSON report carries the same findings.
  const json = await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url }, 60_000, ['--max-gap', '45', '--json']);
  expect(json.code).toBe(1);
  const report = JSON.parse(json.stdout) as { snapshots: number; problems: { kind: string; coin: string }[] };
  expect(report.snapshots).toBe(9);
  expect(report.problems.map((p) => `${p.kind} ${p.coin}`)).toEqual(['non-monotonic twice', 'duplicate twice', 'stale-latest gappy']);
});

it("`npm run verify` leaves the backfill's points out of the fetcher's checks, finds rollups that disagree with their snapshots, and starts where the retention keeps the snapshots", async () => {
  await t.db.raw('truncate quote_snapshots, latest_quotes');
  await t.db('coins').insert([{ id: 'filled', symbol: 'f', name: 'Filled' }]);
  // Hourly points received at once by a backfill, then the fetcher's 5-minute snapshots.
  await t
    .db('quote_snapshots')
    .insert([
      { ...snapshot('filled', 240, 1), source: 'backfill' },
      { ...snapshot('filled', 180, 1), source: 'backfill' },
      { ...snapshot('filled', 120, 1), source: 'backfill' },
      snapshot('filled', 10, 9),
      snapshot('filled', 5, 4),
    ]);
  await t.db('latest_quotes').insert(snapshot('filled', 5, 4));
  const clean = await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url });
  expect(clean.stdout).toContain('no problems found');
  expect(clean.code).toBe(0);

  // A rollup that no longer matches: the day's close changed behind the trigger's back.
  const day = new Date(Math.floor(at(5).getTime() / 86_400_000) * 86_400_000);
  await t.db('quote_rollups_daily').where({ coin_id: 'filled', bucket: day }).update({ close: 2 });
  const damaged = await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url }, 60_000, ['--json']);
  expect(damaged.code).toBe(1);
  expect((JSON.parse(damaged.stdout) as { problems: unknown[] }).problems).toEqual([
    { kind: 'rollup', coin: 'filled', currency: 'usd', detail: `DAY bucket ${day.toISOString()}: close 2 (snapshots: 1)` },
  ]);
  await t.db('quote_rollups_daily').where({ coin_id: 'filled', bucket: day }).update({ close: 1 });

  // The retention dropped what lay before 30 minutes ago: the gap from the last dropped fetcher snapshot is no finding.
  await t.db('quote_snapshots').insert(snapshot('filled', 60, 59));
  expect((await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url })).stdout).toContain(
    `  filled usd: no snapshot for 50 min: ${iso(60)} -> ${iso(10)}`,
  );
  await t.db('retention_drops').insert({ table_name: 'quote_snapshots', partition_name: 'quote_snapshots_test', range_from: at(90), range_to: at(30) });
  const retained = await runScript('jobs/fetcher/src/verify-main.ts', { DATABASE_URL: t.url });
  expect(retained.stdout.split('\n').slice(0, 3)).toEqual([
    'checked 2 snapshots of the last 7 day(s); a gap is over 15 min',
    `the retention dropped the snapshots before ${iso(30)}: checked from there`,
    'gap: 0',
  ]);
  expect(retained.code).toBe(0);
});
