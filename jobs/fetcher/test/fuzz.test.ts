import { rawJson, startFakeCoinGecko, type FakeCoinGecko, type MarketItem } from '@cryptoagg/fake-upstream';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetcherEnv, runInProcess } from './helpers.js';

/*
 * Property: whatever hostile value replaces a field of a few upstream items
 * (or a whole item, or a coin's metadata record), the run succeeds, counts
 * exactly the items it had to skip, and leaves the database exactly as a run
 * served only the well-formed items would: every well-formed item stored,
 * nothing else changed, no partition outside the run's window.
 */

const COINS = 10;
const CURRENCIES = ['usd', 'btc'];
const MISSING = Symbol('missing field');
const HOUR = 3_600_000;

let fake: FakeCoinGecko;
let t: TestDatabase;
let initialPartitions: string[];

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: COINS }), createTestDatabase('fetcher_fuzz')]);
  initialPartitions = await partitions();
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
});

/** A replacement for one field of an item (or for the whole item when `field` is null) and whether the item stays storable. */
interface Mutation {
  field: keyof MarketItem | null;
  value: unknown;
  stored: boolean;
}

const ascii = fc.string({ maxLength: 8 });
const withNul = fc.tuple(ascii, ascii).map(([a, b]) => `${a}\u0000${b}`);
// ASCII around it, so the surrogate never finds a partner.
const withLoneSurrogate = fc.tuple(ascii, fc.integer({ min: 0xd800, max: 0xdfff }), ascii).map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`);
const unicode = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\u0000'));
const longText = (min: number) => fc.integer({ min, max: min + 3_000 }).map((n) => 'l'.repeat(n));
const wrongType = fc.constantFrom<unknown>(42, true, {}, [], ['x']);
const infinite = fc.constantFrom(rawJson('1e999'), rawJson('-1e999'));
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const nonNegative = fc.double({ noNaN: true, noDefaultInfinity: true, min: 0 });
const negative = fc.double({ noNaN: true, noDefaultInfinity: true, max: -Number.MIN_VALUE });
const isoDate = (min: string, max: string) => fc.date({ min: new Date(min), max: new Date(max), noInvalidDate: true }).map((d) => d.toISOString());

const bad = (field: keyof MarketItem | null, value: fc.Arbitrary<unknown>) => value.map((v): Mutation => ({ field, value: v, stored: false }));
const good = (field: keyof MarketItem, value: fc.Arbitrary<unknown>) => value.map((v): Mutation => ({ field, value: v, stored: true }));

const text = (field: 'id' | 'symbol' | 'name' | 'image', max: number) =>
  fc.oneof(bad(field, withNul), bad(field, withLoneSurrogate), bad(field, longText(max + 1)), bad(field, wrongType));
const amount = (field: 'current_price' | 'market_cap' | 'total_volume') =>
  fc.oneof(bad(field, negative), bad(field, infinite), bad(field, fc.constantFrom<unknown>('1.5', {}, true)), good(field, nonNegative));
const change = (field: 'high_24h' | 'low_24h' | 'price_change_24h' | 'price_change_percentage_24h' | 'circulating_supply') =>
  fc.oneof(bad(field, infinite), bad(field, fc.constantFrom<unknown>('3', {}, true)), good(field, finite), good(field, fc.constantFrom(null, MISSING)));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  text('id', 200),
  good(
    'id',
    unicode.map((s) => `fuzz-${s}`),
  ),
  text('symbol', 100),
  text('name', 500),
  good('name', unicode),
  text('image', 2_048),
  good('image', fc.constantFrom(null, MISSING, '')),
  bad('id', fc.constantFrom<unknown>(null, MISSING, '')),
  bad('name', fc.constantFrom<unknown>(null, MISSING)),
  amount('current_price'),
  bad('current_price', fc.constantFrom<unknown>(null, MISSING)),
  amount('market_cap'),
  good('market_cap', fc.constantFrom(null, MISSING)),
  amount('total_volume'),
  change('high_24h'),
  change('low_24h'),
  change('price_change_24h'),
  change('price_change_percentage_24h'),
  change('circulating_supply'),
  bad(
    'market_cap_rank',
    fc.oneof(fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }), fc.integer({ max: 0 }), fc.constantFrom<unknown>(3e9, 1.5, 2 ** 64, '1'), infinite),
  ),
  good('market_cap_rank', fc.oneof(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(null, MISSING))),
  bad('last_updated', isoDate(new Date(Date.now() + 2 * HOUR).toISOString(), '9999-12-31T23:59:59Z')),
  // More than an hour after the fetch, measured when the value is made (a moment before the run).
  bad(
    'last_updated',
    fc.integer({ min: HOUR + 60_000, max: 400 * 24 * HOUR }).map((ahead) => new Date(Date.now() + ahead).toISOString()),
  ),
  bad('last_updated', isoDate('0001-01-01T00:00:00Z', '2009-01-02T23:59:59Z')),
  // Well-formed but before the run's window (from 2024-12-01: the fixture's newest snapshot is in February 2025).
  bad('last_updated', isoDate('2009-01-03T00:00:00Z', '2024-11-30T23:59:59.999Z')),
  bad('last_updated', fc.oneof(ascii, wrongType, fc.constantFrom<unknown>(null, MISSING, '2025-02-30T00:00:00Z', '2025-02-09T17:44:04'))),
  // Inside the window, never after the fixture's newest snapshot (so the window stays where it is).
  good('last_updated', isoDate('2024-12-01T00:00:00Z', '2025-02-09T00:00:00Z')),
  bad(null, fc.constantFrom<unknown>(null, 42, 'item', [], {})),
);

/** A hostile metadata record for one coin, or a well-formed unusual one. */
const metadataRecord = fc.oneof(
  withNul.map((s) => ({ description: { en: s }, stored: false })),
  withLoneSurrogate.map((s) => ({ categories: ['Meme', s], stored: false })),
  longText(100_001).map((s) => ({ description: { en: s }, stored: false })),
  fc.constantFrom('2021-02-30', '0000-01-01', '2021-1-1').map((g) => ({ genesis_date: g, stored: false })),
  // ({} is a description without text: well-formed.)
  fc.constantFrom<unknown>(42, true, [], 'About X').map((v) => ({ description: v, stored: false })),
  unicode.map((s) => ({ description: { en: s }, categories: [s], stored: true })),
);

const scenario = fc.record({
  items: fc.uniqueArray(fc.record({ index: fc.nat({ max: COINS - 1 }), mutation }), { minLength: 1, maxLength: 4, selector: (m) => m.index }),
  records: fc.uniqueArray(fc.record({ index: fc.nat({ max: 3 }), record: metadataRecord }), { maxLength: 2, selector: (r) => r.index }),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

function mutate(item: MarketItem, { field, value }: Mutation): unknown {
  if (field === null) return value;
  const copy: Record<string, unknown> = { ...item };
  if (value === MISSING) delete copy[field];
  else copy[field] = value;
  return copy;
}

/** Serves the scenario: hostile everything, or (reference) only what must be stored, with refused records in place of bad ones. */
function serve({ items, records }: Scenario, reference: boolean): void {
  fake.reset();
  fake.editMarkets((served) =>
    served.flatMap((item, index) => {
      const m = items.find((i) => i.index === index)?.mutation;
      if (!m) return [item];
      if (reference && !m.stored) return [];
      return [mutate(item, m)];
    }),
  );
  for (const { index, record } of records) {
    const id = fake.coinIds()[index]!;
    const { stored, ...fields } = record;
    // The reference run gets a record the fetcher refuses too (an answer for another coin): same outcome, a failed refresh.
    fake.setCoinDetail(id, reference && !stored ? { id: 'another-coin' } : { ...fake.coinDetail(id), ...fields });
  }
}

async function partitions(): Promise<string[]> {
  const { rows } = await t.db.raw<{ rows: { name: string }[] }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'quote_snapshots'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

const STATE_TABLES = ['coins', 'latest_quotes', 'quote_snapshots', 'market_listings'];
/** Columns that differ between two runs of the same data: clocks and run ids. Timestamps of attempts count as set or not. */
const CLOCK_COLUMNS = new Set(['created_at', 'updated_at', 'fetched_at', 'run_id']);
const ATTEMPT_COLUMNS = new Set(['metadata_refreshed_at', 'metadata_failed_at']);

async function state(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of STATE_TABLES) {
    const { rows: exists } = await t.db.raw<{ rows: { found: string | null }[] }>('select to_regclass(?)::text as found', [table]);
    if (!exists[0]?.found) continue;
    const rows = await t.db(table).select<Record<string, unknown>[]>('*');
    out[table] = rows
      .map((row) =>
        JSON.stringify(
          Object.entries(row)
            .filter(([k]) => !CLOCK_COLUMNS.has(k))
            .map(([k, v]) => [k, ATTEMPT_COLUMNS.has(k) ? v !== null : v]),
        ),
      )
      .sort();
  }
  return out;
}

async function truncate(): Promise<void> {
  await t.db.raw('truncate coins, latest_quotes, quote_snapshots, fetch_runs restart identity');
  await t.db.raw(`do $$ begin if to_regclass('market_listings') is not null then truncate market_listings; end if; end $$`);
}

const env = () => fetcherEnv(t, fake.url, { FETCH_CURRENCIES: CURRENCIES.join(','), FETCH_METADATA_PER_RUN: '3', FETCH_RETRIES: '0' });

describe('hostile upstream items, fuzzed', () => {
  it('never fail the run, are counted exactly, and change nothing but the well-formed items they carry', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await truncate();
        serve(s, false);
        const hostile = await runInProcess(t, env());
        const afterHostile = await state();
        const created = (await partitions()).filter((p) => !initialPartitions.includes(p));

        await truncate();
        serve(s, true);
        const reference = await runInProcess(t, env());

        const skipped = s.items.filter((i) => !i.mutation.stored).length;
        expect(hostile.itemsReceived).toBe(COINS * CURRENCIES.length);
        expect(hostile.itemsSkipped).toBe(skipped * CURRENCIES.length);
        expect(reference.itemsSkipped).toBe(0);
        expect(hostile.metadataSkipped).toBe(reference.metadataSkipped);
        expect(afterHostile).toEqual(await state());
        expect(created.every((p) => ['quote_snapshots_2024_12', 'quote_snapshots_2025_01', 'quote_snapshots_2025_02'].includes(p))).toBe(true);
      }),
      { numRuns: 30, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
  });
});
