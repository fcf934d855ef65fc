import type { RollupRow } from '@cryptoagg/db';
import { createTestDatabase, runScript, type TestDatabase } from '@cryptoagg/testkit';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildRollups, verifyRollups } from '../src/rollups.js';

/*
 * The rollups a trigger keeps on every insert into quote_snapshots, against a
 * brute-force summary of the snapshots computed here in JavaScript: random
 * snapshot sets around month boundaries and Berlin's DST changes, inserted in
 * random batches and orders (late snapshots, re-sent duplicates that ON
 * CONFLICT DO NOTHING skips) from a session whose TimeZone is Europe/Berlin.
 */

let t: TestDatabase;
let berlin: pg.Client;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Two days from each anchor: a month boundary, Berlin's spring and autumn DST changes, both together (Oct 31 -> Nov 1 is a month boundary too). */
const ANCHORS = ['2026-03-28T20:00:00Z', '2026-03-31T12:00:00Z', '2026-10-24T20:00:00Z', '2026-10-31T12:00:00Z'].map(Date.parse);

beforeAll(async () => {
  t = await createTestDatabase('fetcher_rollups');
  await t.db.raw(`select ensure_quote_snapshot_partitions('2026-03-01', '2026-11-30')`);
  berlin = new pg.Client({ connectionString: t.url });
  await berlin.connect();
  await berlin.query(`set time zone 'Europe/Berlin'`);
});
afterAll(async () => {
  await berlin.end();
  await t.destroy();
});

interface Snapshot {
  coin: string;
  currency: string;
  time: number;
  price: number;
  cap: number | null;
  volume: number | null;
}

/** What the rollups must hold, computed from the snapshots alone. */
function bruteForce(snapshots: Snapshot[], size: number): RollupRow[] {
  const buckets = new Map<string, Snapshot[]>();
  for (const s of snapshots) {
    const key = `${s.coin}|${s.currency}|${Math.floor(s.time / size) * size}`;
    buckets.set(key, [...(buckets.get(key) ?? []), s]);
  }
  return [...buckets]
    .map(([key, members]): RollupRow => {
      const [coin, currency, bucket] = key.split('|') as [string, string, string];
      const sorted = [...members].sort((a, b) => a.time - b.time);
      const first = sorted[0]!;
      const last = sorted.at(-1)!;
      return {
        coin_id: coin,
        currency,
        bucket: new Date(Number(bucket)),
        open: first.price,
        high: Math.max(...sorted.map((s) => s.price)),
        low: Math.min(...sorted.map((s) => s.price)),
        close: last.price,
        market_cap: last.cap,
        total_volume: last.volume,
        samples: sorted.length,
        first_at: new Date(first.time),
        last_at: new Date(last.time),
      };
    })
    .sort((a, b) =>
      a.coin_id < b.coin_id
        ? -1
        : a.coin_id > b.coin_id
          ? 1
          : a.currency < b.currency
            ? -1
            : a.currency > b.currency
              ? 1
              : a.bucket.getTime() - b.bucket.getTime(),
    );
}

const stored = (table: string) => t.db<RollupRow>(table).orderBy(['coin_id', 'currency', 'bucket']);

async function insert(client: pg.Client, batch: Snapshot[]): Promise<void> {
  await client.query(
    `insert into quote_snapshots (coin_id, currency, last_updated, fetched_at, price, market_cap, total_volume)
     select c, cur, to_timestamp(t / 1000.0), now(), p, m, v from unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[]) as x(c, cur, t, p, m, v)
     on conflict do nothing`,
    [
      batch.map((s) => s.coin),
      batch.map((s) => s.currency),
      batch.map((s) => s.time),
      batch.map((s) => s.price),
      batch.map((s) => s.cap),
      batch.map((s) => s.volume),
    ],
  );
}

/** A snapshot time near an anchor: anywhere in two days, or right on / just before an hour's edge. */
const time = fc.oneof(
  fc.tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: 0, max: 2 * DAY - 1 })).map(([a, o]) => a + o),
  fc
    .tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: 0, max: 48 }), fc.constantFrom(0, -1, 1))
    .map(([a, h, d]) => Math.floor(a / HOUR) * HOUR + h * HOUR + d),
);
const amount = fc.double({ min: 0, max: 1e9, noNaN: true }).map((v) => v + 0);
const snapshot = fc.record({
  coin: fc.constantFrom('alpha', 'beta'),
  currency: fc.constantFrom('usd', 'eur'),
  time,
  price: amount,
  cap: fc.option(amount, { nil: null }),
  volume: fc.option(amount, { nil: null }),
});

describe('rollups maintained by the trigger', () => {
  it('equal a brute-force summary of the snapshots, whatever the batches, their order and re-sent duplicates', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(snapshot, { minLength: 1, maxLength: 60, selector: (s) => `${s.coin}|${s.currency}|${s.time}` }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
        async (snapshots, cuts, keys) => {
          await t.db.raw('truncate quote_snapshots');
          // A random order, cut into random batches: later batches hold earlier snapshots (late arrivals).
          const shuffled = snapshots
            .map((s, i) => ({ s, k: keys[i] ?? 0 }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.s);
          const bounds = [...new Set(cuts.map((c) => c % (shuffled.length + 1)))].sort((a, b) => a - b);
          let start = 0;
          for (const end of [...bounds, shuffled.length]) {
            if (end > start) await insert(berlin, shuffled.slice(start, end));
            start = Math.max(start, end);
          }
          // Sent again with other prices: stored snapshots win, and the rollups count nothing twice.
          await insert(
            berlin,
            shuffled.slice(0, Math.ceil(shuffled.length / 2)).map((s) => ({ ...s, price: s.price + 1, cap: null })),
          );

          expect(await stored('quote_rollups_hourly')).toEqual(bruteForce(snapshots, HOUR));
          expect(await stored('quote_rollups_daily')).toEqual(bruteForce(snapshots, DAY));
        },
      ),
      { numRuns: 40, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false },
    );
  });

  it('merge two transactions that insert into one bucket at once: the late one lands where its snapshots belong', async () => {
    await t.db.raw('truncate quote_snapshots');
    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    try {
      const at = (minute: number) => Date.parse('2026-10-25T00:00:00Z') + minute * 60_000;
      await berlin.query('begin');
      await other.query('begin');
      await insert(berlin, [{ coin: 'alpha', currency: 'usd', time: at(30), price: 3, cap: 30, volume: 300 }]);
      // Waits on the bucket's row lock until the first commits, then merges into the committed row.
      const late = insert(other, [
        { coin: 'alpha', currency: 'usd', time: at(10), price: 1, cap: 10, volume: 100 },
        { coin: 'alpha', currency: 'usd', time: at(50), price: 5, cap: 50, volume: null },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await berlin.query('commit');
      await late;
      await other.query('commit');
    } finally {
      await other.end();
    }
    expect(await stored('quote_rollups_hourly')).toEqual([
      {
        coin_id: 'alpha',
        currency: 'usd',
        bucket: new Date('2026-10-25T00:00:00.000Z'),
        open: 1,
        high: 5,
        low: 1,
        close: 5,
        market_cap: 50,
        total_volume: null,
        samples: 3,
        first_at: new Date('2026-10-25T00:10:00.000Z'),
        last_at: new Date('2026-10-25T00:50:00.000Z'),
      },
    ]);
  });

  it('are emptied with the snapshots by a truncate', async () => {
    await insert(berlin, [{ coin: 'beta', currency: 'eur', time: Date.parse('2026-04-01T10:00:00Z'), price: 1, cap: null, volume: null }]);
    await t.db.raw('truncate quote_snapshots');
    expect(await stored('quote_rollups_hourly')).toEqual([]);
    expect(await stored('quote_rollups_daily')).toEqual([]);
  });
});

describe('npm run rollups -- rebuild / verify', () => {
  it('verify finds every damaged bucket; rebuild recomputes them from the snapshots and verify is clean again', async () => {
    await t.db.raw('truncate quote_snapshots');
    const snapshots: Snapshot[] = [
      { coin: 'alpha', currency: 'usd', time: Date.parse('2026-03-31T23:10:00Z'), price: 2, cap: 20, volume: 200 },
      { coin: 'alpha', currency: 'usd', time: Date.parse('2026-03-31T23:40:00Z'), price: 4, cap: 40, volume: null },
      { coin: 'alpha', currency: 'usd', time: Date.parse('2026-04-01T00:20:00Z'), price: 3, cap: 30, volume: 300 },
    ];
    await insert(berlin, snapshots);
    const since = new Date('2026-03-01T00:00:00Z');
    expect(await verifyRollups(t.db, since)).toEqual([]);

    await t
      .db('quote_rollups_hourly')
      .where({ bucket: new Date('2026-03-31T23:00:00Z') })
      .update({ close: 9, samples: 1 });
    await t
      .db('quote_rollups_daily')
      .where({ bucket: new Date('2026-04-01T00:00:00Z') })
      .delete();
    await t.db('quote_rollups_daily').insert({
      ...bruteForce(snapshots, DAY)[0]!,
      coin_id: 'ghost',
    });
    expect((await verifyRollups(t.db, since)).map((m) => `${m.interval} ${m.coin} ${m.bucket.toISOString()}: ${m.detail}`)).toEqual([
      'HOUR alpha 2026-03-31T23:00:00.000Z: close 9 (snapshots: 4), samples 1 (snapshots: 2)',
      'DAY alpha 2026-04-01T00:00:00.000Z: missing',
      'DAY ghost 2026-03-31T00:00:00.000Z: no snapshots in this bucket',
    ]);

    const result = await rebuildRollups(t.db);
    expect(result).toMatchObject({ from: null, hourly: 2, daily: 2 });
    expect(await verifyRollups(t.db, since)).toEqual([]);
    expect(await stored('quote_rollups_hourly')).toEqual(bruteForce(snapshots, HOUR));
    expect(await stored('quote_rollups_daily')).toEqual(bruteForce(snapshots, DAY));
    // Idempotent.
    await rebuildRollups(t.db);
    expect(await stored('quote_rollups_daily')).toEqual(bruteForce(snapshots, DAY));

    // The same as commands.
    await t
      .db('quote_rollups_hourly')
      .where({ bucket: new Date('2026-04-01T00:00:00Z') })
      .update({ open: 7 });
    const damaged = await runScript('jobs/fetcher/src/rollups-main.ts', { DATABASE_URL: t.url }, 60_000, ['verify', '--days', '3650']);
    expect([damaged.code, damaged.stdout]).toEqual([1, 'HOUR alpha usd 2026-04-01T00:00:00.000Z: open 7 (snapshots: 3)\n1 bucket(s) differ\n']);
    const rebuilt = await runScript('jobs/fetcher/src/rollups-main.ts', { DATABASE_URL: t.url, LOG_LEVEL: 'info' }, 60_000, ['rebuild']);
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.logs.at(-1)).toMatchObject({ msg: 'rollups rebuilt', hourly: 2, daily: 2 });
    const clean = await runScript('jobs/fetcher/src/rollups-main.ts', { DATABASE_URL: t.url }, 60_000, ['verify', '--days', '3650']);
    expect([clean.code, clean.stdout]).toEqual([0, 'the rollups of the last 3650 day(s) match their snapshots\n']);
    const usage = await runScript('jobs/fetcher/src/rollups-main.ts', { DATABASE_URL: t.url }, 60_000, ['rebuilt']);
    expect([usage.code, usage.stderr]).toEqual([
      2,
      'usage: npm run rollups -- rebuild | verify [--days N] (N a whole number of days above 0; got "rebuilt" --days 7)\n',
    ]);
  });
});
