import { migrationConfig, migrateLatest, type FetchRunRow, type MarketListingRow, type QuoteRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRun, writeRun, type CoinUpsert } from '../src/store.js';
import { fetcherEnv, runInProcess } from './helpers.js';

/**
 * The listing each successful run leaves for markets(currency): the items at positions 1..FETCH_MAX_COINS
 * of the upstream's order (across pages) minus the skipped ones, replacing the previous run's listing of
 * that currency in the same transaction, never mixed with another run's.
 */

let fake: FakeCoinGecko;
let t: TestDatabase;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 300, currencies: ['usd'] }), createTestDatabase('fetcher_listing')]);
});
afterAll(async () => {
  await Promise.all([fake?.close(), t?.destroy()]);
});
beforeEach(async () => {
  fake.reset();
  await t.db.raw('truncate coins, latest_quotes, quote_snapshots, fetch_runs, market_listings restart identity');
});

const env = (extra: Record<string, string>) => fetcherEnv(t, fake.url, { FETCH_CURRENCIES: 'usd', ...extra });
const listed = async (currency = 'usd') => (await t.db<MarketListingRow>('market_listings').where({ currency }).orderBy('coin_id')).map((r) => r.coin_id);
const byteOrder = (ids: string[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const ids = (from: number, to: number) =>
  fake
    .markets('usd')
    .slice(from - 1, to)
    .map((i) => i.id);

describe('a run lists the upstream top FETCH_MAX_COINS by position', () => {
  it('across pages; a malformed item keeps its position, so the coins after the top never move in', async () => {
    const all = ids(1, 300);
    fake.setFaults({ malformedAt: [5, 255] });
    const result = await runInProcess(t, env({ FETCH_MAX_COINS: '260' }));

    // Positions 1..260 of 300 are two pages; 5 and 255 are skipped and not replaced by 261 and 262.
    const expected = all.filter((_, i) => i + 1 <= 260 && i + 1 !== 5 && i + 1 !== 255);
    expect(expected).toHaveLength(258);
    expect(await listed()).toEqual(byteOrder(expected));
    expect(result).toMatchObject({ itemsReceived: 260, itemsSkipped: 2, coinsUpdated: 258, snapshotsInserted: 258, requests: 2 });
    const stored = await t.db<QuoteRow>('latest_quotes').pluck('coin_id');
    expect(byteOrder(stored)).toEqual(byteOrder(expected));
    expect(await t.db('coins').whereIn('id', [all[4]!, all[254]!, all[260]!, all[261]!]).pluck('id')).toEqual([]);
  });

  it('stops at FETCH_MAX_COINS inside a page: the next coins on it are neither stored nor counted', async () => {
    const result = await runInProcess(t, env({ FETCH_MAX_COINS: '7' }));
    expect(await listed()).toEqual(byteOrder(ids(1, 7)));
    expect(result).toMatchObject({ itemsReceived: 7, itemsSkipped: 0, coinsUpdated: 7, requests: 1 });
  });

  it('lists a coin seen twice while ranks shift between pages once, and the run succeeds', async () => {
    const small = await startFakeCoinGecko({ coins: 260, currencies: ['usd'] });
    try {
      const before = small.markets('usd').map((i) => i.id);
      // Bitcoin drops to the end once page 1 is answered: page 2 serves it again, and the coin at 251 moved to page 1 unseen.
      small.setFaults({ delayMs: 100 });
      const trip = setInterval(() => {
        if (small.requests[0]?.status === 200) small.setFaults({ demote: ['bitcoin'] });
      }, 2);
      const result = await runInProcess(t, { ...env({ FETCH_MAX_COINS: '260' }), COINGECKO_BASE_URL: small.url }).finally(() => clearInterval(trip));
      expect(small.requests.map((r) => r.query.page)).toEqual(['1', '2']);
      const expected = before.filter((_, i) => i + 1 !== 251);
      expect(await listed()).toEqual(byteOrder(expected));
      expect(result).toMatchObject({ itemsReceived: 260, itemsSkipped: 0, coinsUpdated: 259 });
    } finally {
      await small.close();
    }
  });

  it('replaces the listing of the next run: a coin that left the top is unlisted but keeps its latest quote', async () => {
    const first = await runInProcess(t, env({ FETCH_MAX_COINS: '10' }));
    const ethereum = await t.db<QuoteRow>('latest_quotes').where({ coin_id: 'ethereum', currency: 'usd' }).first();
    fake.setRound(1);
    fake.setFaults({ demote: ['ethereum'] });
    const second = await runInProcess(t, env({ FETCH_MAX_COINS: '10' }));

    expect(await listed()).toEqual(byteOrder(ids(1, 10)));
    expect(await listed()).not.toContain('ethereum');
    // Coins that stayed are listed since the first run; the one that moved up since the second.
    const since = await t.db<MarketListingRow>('market_listings').orderBy('coin_id');
    const entered = ids(10, 10)[0]!;
    expect(since.map((r) => [r.coin_id, r.since_run_id])).toEqual(byteOrder(ids(1, 10)).map((id) => [id, id === entered ? second.runId : first.runId]));
    expect(await t.db<QuoteRow>('latest_quotes').where({ coin_id: 'ethereum', currency: 'usd' }).first()).toEqual(ethereum);
  });
});

describe('two runs at once', () => {
  it('leave the listing of the run that committed last, never a mix of both', async () => {
    const other = await startFakeCoinGecko({ coins: 300, currencies: ['usd'] });
    try {
      // Different tops: a mix of the two listings would show.
      other.setFaults({ demote: ['ethereum', 'tether'], malformedAt: [3], delayMs: 150 });
      fake.setFaults({ delayMs: 150 });
      const tops = new Map([
        [fake.url, byteOrder(ids(1, 20))],
        [
          other.url,
          byteOrder(
            other
              .markets('usd')
              .slice(0, 19)
              .map((i) => i.id),
          ),
        ],
      ]);
      const runs = await Promise.all(
        [fake.url, other.url].map(async (url) => ({ url, result: await runInProcess(t, { ...env({ FETCH_MAX_COINS: '20' }), COINGECKO_BASE_URL: url }) })),
      );
      const records = await t.db<FetchRunRow>('fetch_runs').orderBy('finished_at');
      expect(records.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      const [earlier, last] = records.map((record) => runs.find((r) => r.result.runId === record.id)!);

      expect(tops.get(fake.url)).not.toEqual(tops.get(other.url));
      expect(await listed()).toEqual(tops.get(last!.url));
      // Exactly the last run's coins: those both runs listed since the earlier one, the others since the last.
      const since = await t.db<MarketListingRow>('market_listings').orderBy('coin_id');
      expect(since.map((r) => [r.coin_id, r.since_run_id])).toEqual(
        tops.get(last!.url)!.map((id) => [id, tops.get(earlier!.url)!.includes(id) ? earlier!.result.runId : last!.result.runId]),
      );
    } finally {
      await other.close();
    }
  });

  it('serialise their listing writes even without the run lock: the second waits for the first commit', async () => {
    const coins = (prefix: string): CoinUpsert[] =>
      [1, 2, 3].map((n) => ({ id: `${prefix}-${n}`, symbol: `${prefix}${n}`, name: `${prefix} ${n}`, image: null, market_cap_rank: n }));
    const write = (runId: number, list: CoinUpsert[]) =>
      writeRun(t.db, {
        runId,
        coins: list,
        quotes: list.map((c) => ({
          coin_id: c.id,
          currency: 'usd',
          last_updated: new Date(),
          fetched_at: new Date(),
          price: 1,
          market_cap: null,
          total_volume: null,
          high_24h: null,
          low_24h: null,
          price_change_24h: null,
          price_change_percentage_24h: null,
          circulating_supply: null,
        })),
        metadata: [],
        counts: { requests: 0, items_received: 3, items_skipped: 0, metadata_updated: 0, metadata_skipped: 0, upstream_errors: {} },
      });
    const waiting = async () => {
      const { rows } = await t.db.raw<{ rows: { n: number }[] }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      return rows[0]?.n ?? 0;
    };
    const [a, b] = [await startRun(t.db, ['usd']), await startRun(t.db, ['usd'])];

    // Run a stops just before its commit (its run record is locked), with its listing written.
    const holder = await t.db.transaction();
    const writes: Promise<unknown>[] = [];
    try {
      await holder('fetch_runs').where({ id: a }).forUpdate();
      writes.push(write(a, coins('a')));
      await expect.poll(waiting, { timeout: 5_000, interval: 20 }).toBe(1);
      // Run b, on other coins (no row lock in its way), must wait for a rather than delete a listing it cannot see yet.
      let secondDone = false;
      writes.push(write(b, coins('b')).finally(() => (secondDone = true)));
      await expect.poll(waiting, { timeout: 5_000, interval: 20 }).toBe(2);
      expect(secondDone).toBe(false);
    } finally {
      await holder.rollback();
      await Promise.allSettled(writes);
    }

    expect(await listed()).toEqual(['b-1', 'b-2', 'b-3']);
    expect(await t.db<MarketListingRow>('market_listings').distinct('since_run_id').pluck('since_run_id')).toEqual([b]);
  });
});

describe('migration 20261203110000_market_listings', () => {
  it('lists every coin with a latest quote until the first run after the upgrade, and rolls back', async () => {
    const fresh = await createTestDatabase('fetcher_listing_migration', { migrate: false });
    try {
      await fresh.db.migrate.up(migrationConfig);
      await fresh.db.migrate.up(migrationConfig);
      const quote = (coinId: string, currency: string) => ({ coin_id: coinId, currency, last_updated: new Date(), fetched_at: new Date(), price: 1 });
      await fresh.db('latest_quotes').insert([quote('bitcoin', 'usd'), quote('bitcoin', 'eur'), quote('old-coin', 'usd')]);
      await fresh.db('fetch_runs').insert([
        { status: 'succeeded', currencies: ['usd'] },
        { status: 'failed', currencies: ['usd'] },
      ]);

      expect(await migrateLatest(fresh.db)).toContain('20261203110000_market_listings');
      expect(await fresh.db<MarketListingRow>('market_listings').orderBy(['currency', 'coin_id'])).toEqual([
        { currency: 'eur', coin_id: 'bitcoin', since_run_id: 1 },
        { currency: 'usd', coin_id: 'bitcoin', since_run_id: 1 },
        { currency: 'usd', coin_id: 'old-coin', since_run_id: 1 },
      ]);

      await fresh.db.migrate.down({ ...migrationConfig, name: '20261203110000_market_listings' });
      expect((await fresh.db.raw<{ rows: { t: string | null }[] }>(`select to_regclass('market_listings')::text as t`)).rows[0]?.t).toBeNull();
    } finally {
      await fresh.destroy();
    }
  });
});
