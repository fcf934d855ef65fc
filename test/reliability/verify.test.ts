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
