import { createLogger } from '@cryptoagg/core';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, runScript, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartPoints, progressBar, runBackfill, type BackfillDeps, type BackfillOptions } from '../src/backfill.js';
import { applyRetention } from '../src/retention.js';
import { verifyRollups } from '../src/rollups.js';
import { configFor, fetcherEnv, runInProcess } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const COINS = 4;
const CURRENCIES = ['usd', 'eur'];
const logger = createLogger('backfill-test', 'silent');

let fake: FakeCoinGecko;
const databases: TestDatabase[] = [];

/** A database with one fetcher run of the fake's round 0 stored: the coins, their listing and latest quotes. */
async function fetched(label: string): Promise<TestDatabase> {
  const t = await createTestDatabase(label);
  databases.push(t);
  await runInProcess(t, env(t));
  return t;
}

const env = (t: TestDatabase, extra: Record<string, string> = {}) =>
  fetcherEnv(t, fake.url, { FETCH_CURRENCIES: CURRENCIES.join(','), FETCH_MAX_COINS: String(COINS), ...extra });

const deps = (t: TestDatabase, extra: Partial<BackfillDeps> = {}, vars: Record<string, string> = {}): BackfillDeps => ({
  config: configFor(env(t, vars)),
  db: t.db,
  databaseUrl: t.url,
  logger,
  ...extra,
});

interface Row {
  coin_id: string;
  currency: string;
  last_updated: Date;
  price: number;
  market_cap: number | null;
  total_volume: number | null;
  source: string;
}

const snapshots = (t: TestDatabase, source?: string) =>
  t
    .db<Row>('quote_snapshots')
    .modify((q) => {
      if (source) void q.where({ source });
    })
    .select<Row[]>('coin_id', 'currency', 'last_updated', 'price', 'market_cap', 'total_volume', 'source')
    .orderBy(['coin_id', 'currency', 'last_updated']);

const progress = (t: TestDatabase) =>
  t.db('backfill_progress').select('coin_id', 'currency', 'days', 'points_received', 'points_stored').orderBy(['coin_id', 'currency', 'days']);

/** The market_chart points the fake serves for `days`, fetched the way the backfill asks for them. */
async function chart(
  id: string,
  currency: string,
  days: number,
): Promise<{ prices: [number, number][]; market_caps: [number, number][]; total_volumes: [number, number][] }> {
  const response = await fetch(`${fake.url}/coins/${encodeURIComponent(id)}/market_chart?vs_currency=${currency}&days=${days}`);
  return (await response.json()) as { prices: [number, number][]; market_caps: [number, number][]; total_volumes: [number, number][] };
}

beforeAll(async () => {
  fake = await startFakeCoinGecko({ coins: COINS, currencies: CURRENCIES });
});
afterAll(async () => {
  await Promise.all([fake.close(), ...databases.map((t) => t.destroy())]);
});

describe('npm run backfill', () => {
  let single: TestDatabase;
  const twoDays: BackfillOptions = { days: 2 };

  it('stores the chart points of the hours without data, up to the latest quote, marked backfill, within the rate limit', async () => {
    single = await fetched('backfill_single');
    const fetcherRows = await snapshots(single, 'fetcher');
    expect(fetcherRows).toHaveLength(COINS * CURRENCIES.length);

    // Expected: every served point in an hour the fetcher's snapshot does not hold, and not after it.
    const expected: Omit<Row, 'source'>[] = [];
    let received = 0;
    for (const currency of CURRENCIES) {
      for (const item of fake.markets(currency)) {
        const quoted = Date.parse(item.last_updated);
        const served = await chart(item.id, currency, 2);
        received += served.prices.length;
        served.prices.forEach(([time, price], i) => {
          if (Math.floor(time / HOUR) === Math.floor(quoted / HOUR) || time > quoted) return;
          expected.push({
            coin_id: item.id,
            currency,
            last_updated: new Date(time),
            price,
            market_cap: served.market_caps[i]?.[1] ?? null,
            total_volume: served.total_volumes[i]?.[1] ?? null,
          });
        });
      }
    }
    expect(expected.length).toBeGreaterThan(COINS * CURRENCIES.length * 40);
    fake.reset();

    const result = await runBackfill(deps(single, { rateWindowMs: 300 }, { COINGECKO_RATE_LIMIT_PER_MIN: '3' }), twoDays);
    expect(result).toMatchObject({ tasks: 8, alreadyDone: 0, finished: 8, failed: 0, pointsStored: expected.length, pointsSkipped: 0, requests: 8 });
    expect(result.pointsReceived).toBe(received);
    const sortKey = (r: Omit<Row, 'source'>) => `${r.coin_id}|${r.currency}|${r.last_updated.toISOString()}`;
    expect(await snapshots(single, 'backfill')).toEqual(expected.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1)).map((r) => ({ ...r, source: 'backfill' })));
    // The fetcher's snapshots are untouched.
    expect(await snapshots(single, 'fetcher')).toEqual(fetcherRows);

    // One request per coin and currency, coin by coin in rank order, never more than 3 in any 300 ms.
    const requests = fake.requests.filter((r) => r.path.endsWith('/market_chart'));
    expect(requests.map((r) => `${decodeURIComponent(r.path.split('/')[2] ?? '')} ${r.query.vs_currency} ${r.query.days}`)).toEqual(
      fake.markets('usd').flatMap((item) => CURRENCIES.map((currency) => `${item.id} ${currency} 2`)),
    );
    for (let i = 3; i < requests.length; i++) expect(requests[i]!.at - requests[i - 3]!.at).toBeGreaterThanOrEqual(290);

    // The rollups hold the backfilled points like any other.
    expect(await verifyRollups(single.db, new Date(Date.now() - 3 * 365 * DAY))).toEqual([]);
    const [samples] = await single.db('quote_rollups_hourly').sum<{ sum: number }[]>('samples as sum');
    expect(Number(samples?.sum)).toBe(expected.length + COINS * CURRENCIES.length);
  });

  it('is idempotent: run again, it finds every task done and asks the upstream nothing', async () => {
    fake.reset();
    const before = await snapshots(single);
    const result = await runBackfill(deps(single), twoDays);
    expect(result).toMatchObject({ tasks: 8, alreadyDone: 8, finished: 0, pointsStored: 0, requests: 0 });
    expect(fake.requests).toEqual([]);
    expect(await snapshots(single)).toEqual(before);
  });

  it('interrupted after 2 coins and restarted, ends with exactly the points and progress of a single run', async () => {
    const interrupted = await fetched('backfill_interrupted');
    const stop = new AbortController();
    const seen: string[] = [];
    await expect(
      runBackfill(
        deps(interrupted, {
          signal: stop.signal,
          onProgress: (p) => {
            seen.push(`${p.done}/${p.total}`);
            if (p.done === 2 * CURRENCIES.length) stop.abort(new Error('stopped by the test'));
          },
        }),
        twoDays,
      ),
    ).rejects.toThrow('stopped by the test');
    expect(seen).toEqual(['1/8', '2/8', '3/8', '4/8']);
    expect(await interrupted.db('backfill_progress').count<{ count: number }[]>('* as count')).toEqual([{ count: 4 }]);

    const resumed = await runBackfill(deps(interrupted), twoDays);
    expect(resumed).toMatchObject({ tasks: 8, alreadyDone: 4, finished: 4, failed: 0 });
    expect(await snapshots(interrupted)).toEqual(await snapshots(single));
    expect(await progress(interrupted)).toEqual(await progress(single));
    expect(await verifyRollups(interrupted.db, new Date(Date.now() - 3 * 365 * DAY))).toEqual([]);
  });

  it('fills only hours without data: 5-minute points first, then hourly and daily around them; never re-adds what the retention dropped', async () => {
    const t = await fetched('backfill_tiers');
    const options = { coins: ['bitcoin'], currency: 'usd' };
    const bitcoin = Date.parse(fake.markets('usd').find((i) => i.id === 'bitcoin')!.last_updated);
    const oneDay = await runBackfill(deps(t), { days: 1, ...options });
    // 5-minute points over the last day, except the fetcher's hour.
    const fiveMinute = (await chart('bitcoin', 'usd', 1)).prices.filter(([time]) => Math.floor(time / HOUR) !== Math.floor(bitcoin / HOUR) && time <= bitcoin);
    expect(oneDay).toMatchObject({ tasks: 1, pointsStored: fiveMinute.length });
    expect(fiveMinute.length).toBeGreaterThan(12 * 23);

    const hourOf = (time: number) => Math.floor(time / HOUR);
    const filled = new Set([hourOf(bitcoin), ...fiveMinute.map(([time]) => hourOf(time))]);
    const free = (points: [number, number][]) => points.filter(([time]) => time <= bitcoin && !filled.has(hourOf(time)));

    const hourly = free((await chart('bitcoin', 'usd', 90)).prices);
    expect((await runBackfill(deps(t), { days: 90, ...options })).pointsStored).toBe(hourly.length);
    expect(hourly.length).toBeGreaterThan(24 * 88);
    for (const [time] of hourly) filled.add(hourOf(time));
    // Daily points (00:00 UTC): only the days older than the hourly series find their hour free.
    const daily = free((await chart('bitcoin', 'usd', 120)).prices);
    expect((await runBackfill(deps(t), { days: 120, ...options })).pointsStored).toBe(daily.length);
    expect(daily.length).toBeGreaterThanOrEqual(29);
    expect(daily.every(([time]) => time % DAY === 0 && time < bitcoin - 89 * DAY)).toBe(true);

    // No hour mixes the fetcher's and the backfill's snapshots, nor two granularities of the backfill.
    const { rows: mixed } = await t.db.raw<{ rows: unknown[] }>(
      `select coin_id, currency, date_bin('1 hour', last_updated, timestamptz '2000-01-01') from quote_snapshots
        group by 1, 2, 3 having count(distinct source) > 1 or count(distinct fetched_at) > 1`,
    );
    expect(mixed).toEqual([]);
    expect(await verifyRollups(t.db, new Date(Date.now() - 3 * 365 * DAY))).toEqual([]);

    // The retention drops the old months; a backfill asked again (progress forgotten) adds nothing to their rollups.
    const dropped = await applyRetention(t.db, { rawDays: 30, hourlyDays: 60 }, logger);
    expect(dropped.map((d) => d.partition)).toEqual([
      'quote_snapshots_2024_10',
      'quote_snapshots_2024_11',
      'quote_snapshots_2024_12',
      'quote_rollups_hourly_2024_10',
      'quote_rollups_hourly_2024_11',
    ]);
    const rollups = async () => ({
      hourly: await t.db('quote_rollups_hourly').orderBy(['coin_id', 'currency', 'bucket']),
      daily: await t.db('quote_rollups_daily').orderBy(['coin_id', 'currency', 'bucket']),
    });
    const before = await rollups();
    await t.db('backfill_progress').delete();
    for (const d of [120, 90, 1]) expect((await runBackfill(deps(t), { days: d, ...options })).pointsStored).toBe(0);
    expect(await rollups()).toEqual(before);
  });

  it('refuses bad arguments naming them', async () => {
    const t = databases[0]!;
    await expect(runBackfill(deps(t), { days: 0 })).rejects.toThrow('--days: must be a whole number of days between 1 and 3650 (got 0)');
    await expect(runBackfill(deps(t), { days: 3651 })).rejects.toThrow('--days: must be a whole number of days between 1 and 3650 (got 3651)');
    await expect(runBackfill(deps(t), { days: 1, currency: 'gbp' })).rejects.toThrow('--currency: "gbp" is not one of FETCH_CURRENCIES (usd, eur)');
    await expect(runBackfill(deps(t), { days: 1, coins: ['bitcoin', 'nope'] })).rejects.toThrow(
      '--coins: unknown coin(s) nope; the fetcher stores a coin first (npm run fetch)',
    );
  });

  it('as a process: plain log lines with progress and ETA off a terminal; one line naming a bad argument', async () => {
    const t = databases[0]!;
    await t.db('backfill_progress').where({ coin_id: 'bitcoin', days: 2 }).delete();
    const run = await runScript('jobs/fetcher/src/backfill-main.ts', { ...env(t), LOG_LEVEL: 'info' }, 60_000, ['--days', '2', '--coins', 'bitcoin']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const lines = run.logs.filter((l) => l.msg === 'backfill progress');
    expect(lines.map((l) => [l.done, l.total, l.coin, l.currency, l.stored])).toEqual([
      [1, 2, 'bitcoin', 'usd', 0],
      [2, 2, 'bitcoin', 'eur', 0],
    ]);
    expect(lines.map((l) => typeof l.etaSeconds)).toEqual(['number', 'number']);
    expect(run.logs.at(-1)).toMatchObject({ msg: 'backfill finished', backfill: { days: 2, tasks: 2, finished: 2, failed: 0 } });

    const bad = await runScript('jobs/fetcher/src/backfill-main.ts', env(t), 60_000, ['--days', 'two']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('--days: required, a whole number of days (got two)\n');
  });
});

describe('the backfill parts', () => {
  it('reads a market_chart answer: valid points by time, one per timestamp; the rest skipped and counted', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    const t0 = Date.parse('2026-11-30T00:00:00Z');
    expect(
      chartPoints(
        {
          prices: [
            [t0 + HOUR, 2],
            [t0, 1],
            ['x', 1],
            [t0 + 2 * HOUR, -1],
            [t0 + 3 * HOUR, null],
            [t0 + 4 * HOUR],
            [t0, 5],
            [Date.UTC(2008, 0, 1), 1],
            [now + 2 * HOUR, 1],
            [t0 + 5 * HOUR, Infinity],
          ],
          market_caps: [
            [t0, 10],
            [t0 + HOUR, 'big'],
          ],
          total_volumes: [[t0 + HOUR, 20]],
        },
        now,
      ),
    ).toEqual({
      points: [
        { time: t0, price: 1, market_cap: 10, total_volume: null },
        { time: t0 + HOUR, price: 2, market_cap: null, total_volume: 20 },
      ],
      skipped: 7,
    });
    expect(chartPoints({ error: 'coin not found' }, now)).toEqual({ points: [], skipped: 1 });
  });

  it('draws the terminal progress bar with an ETA at this run’s pace', () => {
    const task = { coinId: 'bitcoin', currency: 'usd' };
    expect(progressBar({ done: 190, total: 750, doneThisRun: 90, elapsedMs: 180_000, task, stored: 5 }, 20)).toBe(
      '[#####---------------]  25% 190/750 bitcoin usd  ETA 18m40s',
    );
    expect(progressBar({ done: 0, total: 4, doneThisRun: 0, elapsedMs: 0, task, stored: 0 }, 4)).toBe('[----]   0% 0/4 bitcoin usd  ETA ?');
    expect(progressBar({ done: 4, total: 4, doneThisRun: 4, elapsedMs: 4_000, task, stored: 0 }, 4)).toBe('[####] 100% 4/4 bitcoin usd  ETA 0s');
  });
});
