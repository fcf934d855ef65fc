import { type Api, createTestDatabase, gql, OPERATIONS, startApi, type TestDatabase } from '@cryptoagg/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * HOUR / DAY history and candles, served from the rollups through the gateway,
 * against a brute-force computation from the raw snapshots: random snapshot
 * sets around month boundaries and Berlin's DST changes, inserted in random
 * batches (late snapshots included), with every session of the database (the
 * subgraphs' too) in Europe/Berlin. Caches are off: the snapshots change
 * without a fetcher run, so no data version would move.
 */

let t: TestDatabase;
let api: Api;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ANCHORS = ['2026-03-28T18:00:00Z', '2026-03-31T12:00:00Z', '2026-10-24T18:00:00Z', '2026-10-31T12:00:00Z'].map(Date.parse);

beforeAll(async () => {
  t = await createTestDatabase('contract_rollups_property');
  const { rows } = await t.db.raw<{ rows: { name: string }[] }>('select current_database() as name');
  await t.db.raw(`alter database ?? set timezone = 'Europe/Berlin'`, [rows[0]!.name]);
  await t.db.raw(`select ensure_quote_snapshot_partitions('2026-03-01', '2026-11-30')`);
  api = await startApi({ DATABASE_URL: t.url, CACHE_ENABLED: 'false', RESPONSE_CACHE_TTL_MS: '0' });
});
afterAll(async () => {
  await api.stop();
  await t.destroy();
});

interface Snapshot {
  time: number;
  price: number;
  cap: number | null;
  volume: number | null;
}

interface Bucket {
  time: number;
  members: Snapshot[];
}

function buckets(snapshots: Snapshot[], size: number): Bucket[] {
  const found = new Map<number, Snapshot[]>();
  for (const s of snapshots) {
    const start = Math.floor(s.time / size) * size;
    found.set(start, [...(found.get(start) ?? []), s]);
  }
  return [...found].map(([time, members]) => ({ time, members: [...members].sort((a, b) => a.time - b.time) })).sort((a, b) => a.time - b.time);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What HOUR / DAY history must answer: each bucket starting in [from, to], its last snapshot, at the bucket's start. */
const expectedHistory = (snapshots: Snapshot[], size: number, from: number, to: number) =>
  buckets(snapshots, size)
    .filter((b) => b.time >= from && b.time <= to)
    .map((b) => {
      const last = b.members.at(-1)!;
      return { time: iso(b.time), price: last.price, marketCap: last.cap, totalVolume: last.volume };
    });

const expectedCandles = (snapshots: Snapshot[], size: number, from: number, to: number) =>
  buckets(snapshots, size)
    .filter((b) => b.time >= from && b.time <= to)
    .map((b) => ({
      time: iso(b.time),
      open: b.members[0]!.price,
      high: Math.max(...b.members.map((s) => s.price)),
      low: Math.min(...b.members.map((s) => s.price)),
      close: b.members.at(-1)!.price,
      volume: b.members.at(-1)!.volume,
      samples: b.members.length,
    }));

const CANDLES = `query($id: ID!, $from: DateTime!, $to: DateTime!, $interval: CandleInterval!) {
  coin(id: $id) { candles(currency: "usd", interval: $interval, from: $from, to: $to) { time open high low close volume samples } } }`;

const time = fc.oneof(
  fc.tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: 0, max: 3 * DAY - 1 })).map(([a, o]) => a + o),
  fc.tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: 0, max: 72 }), fc.constantFrom(0, -1)).map(([a, h, d]) => Math.floor(a / HOUR) * HOUR + h * HOUR + d),
);
const amount = fc.double({ min: 0, max: 1e12, noNaN: true }).map((v) => v + 0);
const scenario = fc.record({
  snapshots: fc.uniqueArray(fc.record({ time, price: amount, cap: fc.option(amount, { nil: null }), volume: fc.option(amount, { nil: null }) }), {
    minLength: 1,
    maxLength: 40,
    selector: (s) => s.time,
  }),
  batches: fc.integer({ min: 1, max: 4 }),
  // A sub-range whose ends may fall on bucket edges or inside buckets.
  range: fc.tuple(time, time).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const),
});

let run = 0;

describe('history and candles from the rollups', () => {
  it('match a brute-force computation from the raw snapshots (random sets, bucket edges, DST days, month boundaries)', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ snapshots, batches, range }) => {
        run += 1;
        const id = `prop-${run}`;
        await t.db('coins').insert({ id, symbol: 'prp', name: `Property ${run}` });
        // Newest first in the first batches: the later ones arrive late.
        const ordered = [...snapshots].sort((a, b) => b.time - a.time);
        const size = Math.ceil(ordered.length / batches);
        for (let i = 0; i < ordered.length; i += size) {
          await t.db('quote_snapshots').insert(
            ordered.slice(i, i + size).map((s) => ({
              coin_id: id,
              currency: 'usd',
              last_updated: new Date(s.time),
              fetched_at: new Date(),
              price: s.price,
              market_cap: s.cap,
              total_volume: s.volume,
            })),
          );
        }
        const all = [ANCHORS[0]! - DAY, ANCHORS.at(-1)! + 4 * DAY] as const;
        for (const [from, to] of [all, range]) {
          for (const [interval, size] of [
            ['HOUR', HOUR],
            ['DAY', DAY],
          ] as const) {
            const variables = { id, currency: 'usd', from: iso(from), to: iso(to), interval };
            const history = await gql<{ coin: { history: unknown[] } }>(api.url, OPERATIONS, variables, 'CoinHistory');
            expect(history.errors).toBeUndefined();
            expect(history.data?.coin.history).toEqual(expectedHistory(snapshots, size, from, to));
            const candles = await gql<{ coin: { candles: unknown[] } }>(api.url, CANDLES, variables);
            expect(candles.errors).toBeUndefined();
            expect(candles.data?.coin.candles).toEqual(expectedCandles(snapshots, size, from, to));
          }
        }
      }),
      { numRuns: 30, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
  });
});
