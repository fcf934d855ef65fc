import { createDb, type FetchRunRow, type Knex, type MarketListingRow, type QuoteRow, type RollupRow } from '@cryptoagg/db';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensurePartitions, startRun, writeRun, type CoinUpsert, type RunWrite } from '../src/store.js';
import { count } from './helpers.js';

/*
 * writeRun sends the run's quotes by binary COPY into a temporary table: what
 * the encoder writes must come back exactly (text byte for byte, doubles bit
 * for bit, timestamps to the millisecond, NULLs as NULLs), in the same counts
 * and with the same upsert rules as every other writer of these tables.
 */

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase('fetcher_store_copy');
  await ensurePartitions(t.db, new Date('2026-10-01T00:00:00Z'), new Date('2026-12-31T00:00:00Z'));
});
afterAll(async () => {
  await t?.destroy();
});
beforeEach(async () => {
  await t.db.raw('truncate coins, latest_quotes, quote_snapshots, fetch_runs, market_listings restart identity');
});

const NO_VALUES = {
  market_cap: null,
  total_volume: null,
  high_24h: null,
  low_24h: null,
  price_change_24h: null,
  price_change_percentage_24h: null,
  circulating_supply: null,
};

const coin = (id: string, extra: Partial<CoinUpsert> = {}): CoinUpsert => ({
  id,
  symbol: id.slice(0, 10),
  name: id,
  image: null,
  market_cap_rank: null,
  ...extra,
});
const quote = (coinId: string, currency: string, lastUpdated: string, extra: Partial<QuoteRow> = {}): QuoteRow => ({
  coin_id: coinId,
  currency,
  last_updated: new Date(lastUpdated),
  fetched_at: new Date('2026-12-03T12:00:00.000Z'),
  price: 1,
  ...NO_VALUES,
  ...extra,
});

async function write(quotes: QuoteRow[], coins?: CoinUpsert[], db: Knex = t.db): Promise<{ runId: number; snapshotsInserted: number; coinsUpdated: number }> {
  const currencies = [...new Set(quotes.map((q) => q.currency))];
  const runId = await startRun(db, currencies);
  const run: RunWrite = {
    runId,
    coins: coins ?? [...new Set(quotes.map((q) => q.coin_id))].map((id) => coin(id)),
    quotes,
    metadata: [],
    counts: { requests: 1, items_received: quotes.length, items_skipped: 0, metadata_updated: 0, metadata_skipped: 0, upstream_errors: {} },
  };
  return { runId, ...(await writeRun(db, run)) };
}

const snapshots = () => t.db<QuoteRow>('quote_snapshots').select('*').orderBy(['coin_id', 'currency', 'last_updated']);
const latest = () => t.db<QuoteRow>('latest_quotes').select('*').orderBy(['coin_id', 'currency']);
const withoutSource = (rows: (QuoteRow & { source?: string })[]) => rows.map(({ source: _source, ...rest }) => rest);
const byteOrder = <T extends { coin_id: string; currency: string }>(rows: T[]) =>
  [...rows].sort((a, b) => Buffer.compare(Buffer.from(`${a.coin_id}\u0000${a.currency}`), Buffer.from(`${b.coin_id}\u0000${b.currency}`)));

describe('writeRun by COPY', () => {
  it('stores hostile text, NULLs, extreme doubles and millisecond timestamps exactly as given', async () => {
    const ids = [
      'tab\there',
      'new\nline',
      'carriage\rreturn',
      'back\\slash\\N',
      '\\N',
      'NULL',
      `quotes "double" 'single'`,
      'comma,semi;colon|pipe',
      'ünïcødé-日本語-🚀-𝔘',
      'trailing space ',
      ' ',
      'x'.repeat(200),
      '€'.repeat(200),
    ];
    const quotes = ids.map((id, i) =>
      quote(id, i % 2 ? 'usd' : 'e\tu\\r', `2026-12-0${1 + (i % 3)}T0${i % 10}:0${i % 6}:07.${String(100 + i).padStart(3, '0')}Z`, {
        price: [Number.MAX_VALUE, Number.MIN_VALUE, 0.1 + 0.2, 2 ** 53 + 2, 1e-300, 0][i % 6],
        market_cap: i % 3 ? null : 123_456_789_012.345,
        total_volume: i % 4 ? 5e-324 : null,
        high_24h: -1.7976931348623157e308,
        low_24h: i % 2 ? null : -0.000001,
        price_change_24h: i % 5 ? -42.5 : null,
        price_change_percentage_24h: 1 / 3,
        circulating_supply: i % 2 ? 21_000_000 : null,
      }),
    );
    const coins = ids.map((id) => coin(id, { symbol: 's\t\n\\', name: `name ${id}`, image: id.length > 100 ? null : `https://x/${id}`, market_cap_rank: 7 }));

    const result = await write(quotes, coins);

    expect(result).toEqual({ runId: result.runId, snapshotsInserted: 13, coinsUpdated: 13 });
    expect(withoutSource(await snapshots())).toEqual(byteOrder(quotes));
    expect(await latest()).toEqual(byteOrder(quotes));
    expect(await t.db<MarketListingRow>('market_listings').select('currency', 'coin_id').orderBy(['currency', 'coin_id'])).toEqual(
      byteOrder(quotes)
        .map((q) => ({ currency: q.currency, coin_id: q.coin_id }))
        .sort((a, b) => Buffer.compare(Buffer.from(`${a.currency}\u0000${a.coin_id}`), Buffer.from(`${b.currency}\u0000${b.coin_id}`))),
    );
    // The text in the database is the bytes of the JavaScript string, not an escaped form of it.
    const { rows } = await t.db.raw<{ rows: { n: number }[] }>(
      `select count(*)::int as n from quote_snapshots where coin_id = E'tab\\there' and currency = E'e\\tu\\\\r'`,
    );
    expect(rows[0]?.n).toBe(1);
    expect(await t.db('coins').where({ id: 'new\nline' }).first()).toMatchObject({ symbol: 's\t\n\\', name: 'name new\nline', market_cap_rank: 7 });
  });

  it('stores 15,000 quotes with exact counts, and a rerun of the same quotes stores nothing and reports 0', async () => {
    const quotes = Array.from({ length: 5_000 }, (_, i) =>
      ['usd', 'eur', 'btc'].map((currency, c) =>
        quote(`coin-${String(i).padStart(4, '0')}`, currency, new Date(Date.UTC(2026, 11, 2, 0, 0, 0) + i * 1_000).toISOString(), {
          price: i + c / 10,
          market_cap: i % 7 ? i * 1_000 : null,
        }),
      ),
    ).flat();

    const first = await write(quotes);
    expect(first).toMatchObject({ snapshotsInserted: 15_000, coinsUpdated: 5_000 });
    expect([await count(t, 'quote_snapshots'), await count(t, 'latest_quotes'), await count(t, 'coins'), await count(t, 'market_listings')]).toEqual([
      15_000, 15_000, 5_000, 15_000,
    ]);
    // Every value of every row, as given.
    expect(withoutSource(await snapshots())).toEqual(byteOrder(quotes));
    expect(await latest()).toEqual(byteOrder(quotes));

    const again = await write(quotes);
    expect(again).toMatchObject({ snapshotsInserted: 0, coinsUpdated: 5_000 });
    expect(await count(t, 'quote_snapshots')).toBe(15_000);
    const runs = await t.db<FetchRunRow>('fetch_runs').orderBy('id');
    expect(runs.map((r) => [r.status, r.snapshots_inserted, r.coins_updated])).toEqual([
      ['succeeded', 15_000, 5_000],
      ['succeeded', 0, 5_000],
    ]);
  });

  it('moves a latest quote forward only, and stores the older snapshot beside it', async () => {
    await write([quote('bitcoin', 'usd', '2026-12-02T10:00:00.000Z', { price: 100, market_cap: 5 })]);
    const older = await write([quote('bitcoin', 'usd', '2026-12-02T09:59:59.999Z', { price: 99 })]);
    expect(older.snapshotsInserted).toBe(1);
    expect(await latest()).toEqual([quote('bitcoin', 'usd', '2026-12-02T10:00:00.000Z', { price: 100, market_cap: 5 })]);

    await write([quote('bitcoin', 'usd', '2026-12-02T10:00:00.001Z', { price: 101 })]);
    expect(await latest()).toEqual([quote('bitcoin', 'usd', '2026-12-02T10:00:00.001Z', { price: 101 })]);
    expect((await snapshots()).map((s) => [s.last_updated.toISOString(), s.price])).toEqual([
      ['2026-12-02T09:59:59.999Z', 99],
      ['2026-12-02T10:00:00.000Z', 100],
      ['2026-12-02T10:00:00.001Z', 101],
    ]);
  });

  it('keeps the hourly and daily rollups of what the COPY-based write stored, late and repeated snapshots included', async () => {
    await write([quote('ethereum', 'eur', '2026-12-02T10:05:00.000Z', { price: 100, market_cap: 1_000, total_volume: 10 })]);
    await write([quote('ethereum', 'eur', '2026-12-02T10:50:00.000Z', { price: 90, market_cap: 900, total_volume: 9 })]);
    // Late (between the two) and then repeated: counted once.
    await write([quote('ethereum', 'eur', '2026-12-02T10:20:00.000Z', { price: 120, market_cap: 1_200, total_volume: 12 })]);
    const repeated = await write([quote('ethereum', 'eur', '2026-12-02T10:20:00.000Z', { price: 120, market_cap: 1_200, total_volume: 12 })]);
    expect(repeated.snapshotsInserted).toBe(0);

    const expected = (bucket: string): RollupRow => ({
      coin_id: 'ethereum',
      currency: 'eur',
      bucket: new Date(bucket),
      open: 100,
      high: 120,
      low: 90,
      close: 90,
      market_cap: 900,
      total_volume: 9,
      samples: 3,
      first_at: new Date('2026-12-02T10:05:00.000Z'),
      last_at: new Date('2026-12-02T10:50:00.000Z'),
    });
    expect(await t.db<RollupRow>('quote_rollups_hourly').select('*')).toEqual([expected('2026-12-02T10:00:00.000Z')]);
    expect(await t.db<RollupRow>('quote_rollups_daily').select('*')).toEqual([expected('2026-12-02T00:00:00.000Z')]);
  });

  it('refuses a quote the binary format cannot carry, before anything is stored', async () => {
    await expect(
      write([quote('a', 'usd', '2026-12-02T10:00:00.000Z'), { ...quote('b', 'usd', '2026-12-02T10:00:00.000Z'), last_updated: new Date('not a date') }]),
    ).rejects.toThrow('last_updated: cannot COPY an invalid date as timestamptz');
    expect([await count(t, 'quote_snapshots'), await count(t, 'latest_quotes'), await count(t, 'coins')]).toEqual([0, 0, 0]);
  });

  it('runs the COPY on the transaction connection: a pool of one connection writes run after run, a failed run included', async () => {
    const single = createDb({ url: t.url, poolMax: 1, applicationName: 'test-store-copy-single' });
    try {
      await write([quote('a', 'usd', '2026-12-02T10:00:00.000Z')], undefined, single);
      // PostgreSQL refuses a NUL in text: the COPY fails, the whole run rolls back, its temporary table with it.
      await expect(
        write([quote('b', 'usd', '2026-12-02T10:00:00.000Z'), quote('c\u0000', 'usd', '2026-12-02T10:00:00.000Z')], undefined, single),
      ).rejects.toThrow(/invalid byte sequence|0x00/);
      const next = await write([quote('d', 'usd', '2026-12-02T10:00:00.000Z')], undefined, single);
      expect(next.snapshotsInserted).toBe(1);
      expect((await latest()).map((q) => q.coin_id)).toEqual(['a', 'd']);
      expect((await t.db<FetchRunRow>('fetch_runs').orderBy('id')).map((r) => r.status)).toEqual(['succeeded', 'running', 'succeeded']);
    } finally {
      await single.destroy();
    }
  });
});
