import { createDb, type CoinRow, type FetchRunRow, type QuoteRow } from '@cryptoagg/db';
import { rawJson, startFakeCoinGecko, type FakeCoinGecko, type MarketItem } from '@cryptoagg/fake-upstream';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensurePartitions } from '../src/store.js';
import { expectedQuote, fetcherEnv, runInProcess, storedQuotes } from './helpers.js';

const CURRENCIES = ['usd', 'eur', 'btc'];
const COINS = 12;
const LONG_ID = 'x'.repeat(200);
const DAY = 86_400_000;

let fake: FakeCoinGecko;
let t: TestDatabase;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: COINS }), createTestDatabase('fetcher_hostile')]);
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
});
beforeEach(async () => {
  fake.reset();
  await t.db.raw(`truncate coins, latest_quotes, quote_snapshots, fetch_runs restart identity`);
  await t.db.raw(`do $$ begin if to_regclass('market_listings') is not null then truncate market_listings; end if; end $$`);
});

/** The partitions of quote_snapshots, by name. */
async function partitions(db = t.db): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { name: string }[] }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'quote_snapshots'::regclass order by 1`,
  );
  return rows.map((r) => r.name);
}

/**
 * The hostile items, served after the real ones in every currency, built on a real item so
 * only the hostile field is wrong, and the items among them that are well-formed (and must be stored).
 */
function hostile(items: MarketItem[]): { served: unknown[]; wellFormed: MarketItem[] } {
  const template = items[3]!;
  const like = (id: string, patch: Record<string, unknown>): Record<string, unknown> => ({ ...template, id, symbol: 'hx', name: `Hostile ${id}`, ...patch });
  const valid: MarketItem[] = [
    // 56 days before ripple's quote: December 2024, inside the window, and moving on with the rounds like ripple.
    {
      ...template,
      id: 'december-coin',
      symbol: 'dec',
      name: 'December Coin',
      last_updated: new Date(Date.parse(template.last_updated) - 56 * DAY).toISOString(),
    },
    { ...template, id: LONG_ID, symbol: '😀', name: 'Coin 😀 币 عملة', market_cap_rank: 2_147_483_647 },
  ];
  const invalid = [
    like('nul-name', { name: 'Nul\u0000Coin' }),
    like('lone-surrogate', { symbol: 'x\uD83D' }),
    like('huge-rank', { market_cap_rank: 3e9 }),
    like('a'.repeat(3_000), {}),
    like('year-9999', { last_updated: '9999-12-31T23:59:59.000Z' }),
    like('negative-price', { current_price: -0.5 }),
    like('infinite-cap', { market_cap: rawJson('1e999') }),
    // One millisecond before the window (2024-12-01, two months before the run's newest month) opens.
    like('too-old', { last_updated: '2024-11-30T23:59:59.999Z' }),
  ];
  return { served: [...items, ...invalid, ...valid], wellFormed: [...items, ...valid] };
}
const HOSTILE_INVALID = 8;

const detailRequests = () =>
  fake.requests.filter((r) => /^\/coins\/(?!markets$)[^/]+$/.test(r.path)).map((r) => decodeURIComponent(r.path.split('/').at(-1) ?? ''));
const byCoin = (a: { coin_id: string }, b: { coin_id: string }) => (a.coin_id < b.coin_id ? -1 : 1);

describe('a round with hostile upstream items', () => {
  it('stores every well-formed item, counts the rest, creates no partition outside the window, and the next round is fully current', async () => {
    const env = fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '3' });
    const before = await partitions();
    // bitcoin claims a last_updated in 2100 (it would pin its latest quote for good); ethereum's description holds a NUL.
    fake.editMarkets((items) => hostile(items.map((i) => (i.id === 'bitcoin' ? { ...i, last_updated: '2100-01-01T00:00:00.000Z' } : i))).served);
    const ethereum = fake.coinDetail('ethereum')!;
    fake.setCoinDetail('ethereum', { ...ethereum, description: { en: 'Ether\u0000eum' } });

    const first = await runInProcess(t, env);

    expect(first).toMatchObject({
      itemsReceived: (COINS + HOSTILE_INVALID + 2) * 3,
      itemsSkipped: (1 + HOSTILE_INVALID) * 3,
      coinsUpdated: COINS - 1 + 2,
      snapshotsInserted: (COINS - 1 + 2) * 3,
      metadataUpdated: 2,
      metadataSkipped: 1,
    });
    for (const currency of CURRENCIES) {
      const { wellFormed } = hostile(fake.markets(currency));
      const expected = wellFormed
        .filter((i) => i.id !== 'bitcoin')
        .map((i) => expectedQuote(i, currency))
        .sort(byCoin);
      expect(await storedQuotes(t, 'latest_quotes', currency)).toEqual(expected);
      expect(await storedQuotes(t, 'quote_snapshots', currency)).toEqual(expected);
    }
    const coins = await t.db<CoinRow>('coins').orderBy('id').select('id', 'name', 'market_cap_rank');
    expect(coins.map((c) => c.id)).toEqual([...fake.coinIds().filter((id) => id !== 'bitcoin'), 'december-coin', LONG_ID].sort((a, b) => (a < b ? -1 : 1)));
    expect(coins.find((c) => c.id === LONG_ID)).toEqual({ id: LONG_ID, name: 'Coin 😀 币 عملة', market_cap_rank: 2_147_483_647 });
    // The months from the oldest to the newest stored snapshot, all inside the window: none for 2100, 9999 or November 2024.
    expect((await partitions()).filter((p) => !before.includes(p))).toEqual(['quote_snapshots_2024_12', 'quote_snapshots_2025_01', 'quote_snapshots_2025_02']);
    expect(detailRequests()).toEqual(['ethereum', 'tether', 'ripple']);
    const eth = await t.db<CoinRow>('coins').where({ id: 'ethereum' }).first();
    expect([eth?.description, eth?.metadata_refreshed_at, eth?.metadata_failed_at instanceof Date]).toEqual([null, null, true]);

    // The next round: bitcoin is sane again, the other hostile items and ethereum's record are still served.
    fake.requests.splice(0);
    fake.setRound(1);
    fake.editMarkets((items) => hostile(items).served);
    const second = await runInProcess(t, env);

    expect(second).toMatchObject({
      itemsReceived: (COINS + HOSTILE_INVALID + 2) * 3,
      itemsSkipped: HOSTILE_INVALID * 3,
      coinsUpdated: COINS + 2,
      snapshotsInserted: (COINS + 2) * 3,
      metadataUpdated: 3,
      metadataSkipped: 0,
    });
    for (const currency of CURRENCIES) {
      const expected = hostile(fake.markets(currency))
        .wellFormed.map((i) => expectedQuote(i, currency))
        .sort(byCoin);
      expect(await storedQuotes(t, 'latest_quotes', currency)).toEqual(expected);
    }
    const bitcoin = await t.db<QuoteRow>('latest_quotes').where({ coin_id: 'bitcoin', currency: 'usd' }).first();
    expect(bitcoin?.last_updated.toISOString()).toBe(fake.markets('usd')[0]?.last_updated);
    // Ethereum, whose record failed, waits behind the coins never tried (bitcoin is new this round).
    expect(detailRequests()).toEqual(['bitcoin', 'solana', 'binancecoin']);
    expect(await t.db<FetchRunRow>('fetch_runs').orderBy('id').select('status', 'items_skipped', 'metadata_skipped')).toEqual([
      { status: 'succeeded', items_skipped: 27, metadata_skipped: 1 },
      { status: 'succeeded', items_skipped: 24, metadata_skipped: 0 },
    ]);
  });

  it('a run whose items are all unstorable fails without writing anything but its failed run record', async () => {
    fake.editMarkets((items) => items.map((i) => ({ ...i, name: `${i.name}\u0000` })));
    await expect(runInProcess(t, fetcherEnv(t, fake.url, { FETCH_CURRENCIES: 'usd' }))).rejects.toThrow('the upstream returned no valid market items');
    expect(await t.db('coins').count<{ count: number }[]>('* as count')).toEqual([{ count: 0 }]);
    expect(await t.db<FetchRunRow>('fetch_runs').select('status', 'items_received', 'items_skipped')).toEqual([
      { status: 'failed', items_received: COINS, items_skipped: COINS },
    ]);
  });
});

describe('partitions', () => {
  it('ensurePartitions refuses a range wider than a run window and creates nothing', async () => {
    const before = await partitions();
    await expect(ensurePartitions(t.db, new Date('2026-01-01T00:00:00Z'), new Date('9999-12-31T00:00:00Z'))).rejects.toThrow(
      'refusing to create partitions for 95688 months (2026-01-01T00:00:00.000Z to 9999-12-31T00:00:00.000Z): at most 3 at once',
    );
    await expect(ensurePartitions(t.db, new Date('2023-01-31T00:00:00Z'), new Date('2023-04-01T00:00:00Z'))).rejects.toThrow(
      'refusing to create partitions for 4 months',
    );
    expect(await partitions()).toEqual(before);
    expect(await ensurePartitions(t.db, new Date('2023-01-31T00:00:00Z'), new Date('2023-03-31T23:59:59Z'))).toBe(3);
  });

  it('a whole run on a Europe/Berlin session stores a snapshot at 2026-03-31T23:30:00Z in the March partition', async () => {
    const berlin = await createTestDatabase('fetcher_berlin');
    try {
      const name = new URL(berlin.url).pathname.slice(1);
      await berlin.db.raw(`alter database "${name}" set timezone to 'Europe/Berlin'`);
      const db = createDb({ url: berlin.url, poolMax: 2 });
      try {
        expect((await db.raw<{ rows: { TimeZone: string }[] }>('show timezone')).rows[0]?.TimeZone).toBe('Europe/Berlin');
        const times = ['2026-03-31T23:30:00.000Z', '2026-04-01T00:00:00.000Z', '2026-03-29T01:30:00.000Z'];
        fake.editMarkets((items) => items.slice(0, 3).map((i, n) => ({ ...i, last_updated: times[n] })));
        const result = await runInProcess({ ...berlin, db }, fetcherEnv(berlin, fake.url, { FETCH_CURRENCIES: 'usd' }));
        expect(result.snapshotsInserted).toBe(3);
        const { rows } = await db.raw<{ rows: { at: Date; partition: string }[] }>(
          `select last_updated as at, tableoid::regclass::text as partition from quote_snapshots order by last_updated`,
        );
        expect(rows.map((r) => [r.at.toISOString(), r.partition])).toEqual([
          ['2026-03-29T01:30:00.000Z', 'quote_snapshots_2026_03'],
          ['2026-03-31T23:30:00.000Z', 'quote_snapshots_2026_03'],
          ['2026-04-01T00:00:00.000Z', 'quote_snapshots_2026_04'],
        ]);
        const { rows: bounds } = await db.raw<{ rows: { bound: string }[] }>(
          `select pg_get_expr(relpartbound, oid) as bound from pg_class where relname in ('quote_snapshots_2026_03', 'quote_snapshots_2026_04') order by relname`,
        );
        // Printed in the Berlin session's offsets: exactly UTC midnight of the 1st.
        expect(bounds.map((b) => b.bound)).toEqual([
          "FOR VALUES FROM ('2026-03-01 01:00:00+01') TO ('2026-04-01 02:00:00+02')",
          "FOR VALUES FROM ('2026-04-01 02:00:00+02') TO ('2026-05-01 02:00:00+02')",
        ]);
      } finally {
        await db.destroy();
      }
    } finally {
      await berlin.destroy();
    }
  });
});
