import { startFakeCoinGecko, type FakeCoinGecko, type MarketItem } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { marketsPage } from '../../subgraphs/prices/src/data.js';

/**
 * The contract's listing semantics (section 7), seen by a client through the gateway: markets(currency)
 * lists the coins of the newest successful run, the upstream's top FETCH_MAX_COINS minus skipped items;
 * a coin that left the top is no longer listed, yet coin(id) still answers with its last quote.
 */

const MAX_COINS = 10;
// Two coins beyond the top, so one can move up when another leaves or is skipped.
const UPSTREAM_COINS = MAX_COINS + 2;

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;

const fetchOnce = async () => {
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: String(MAX_COINS),
    FETCH_METADATA_PER_RUN: '0',
    LOG_LEVEL: 'warn',
  });
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
};

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: UPSTREAM_COINS }), createTestDatabase('contract_listing')]);
  const redisUrl = inject('redisUrl');
  api = await startApi({
    DATABASE_URL: t.url,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    REDIS_KEY_PREFIX: `contract-listing-${Date.now()}:`,
    // The gateway's whole-response cache may serve an answer for a few seconds (cache.test.ts holds it to
    // that); without it each step below sees a run within the subgraphs' 1 s, and the file stays fast.
    RESPONSE_CACHE_TTL_MS: '0',
  });
});
afterAll(async () => {
  await api?.stop();
  await Promise.all([fake?.close(), t?.destroy()]);
});

const MARKETS = `query Listing($currency: String!, $first: Int, $after: String) {
  markets(currency: $currency, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id quote(currency: $currency) { price lastUpdated } } }
  }
}`;

interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { node: { id: string; quote: { price: number; lastUpdated: string } | null } }[];
}

async function page(currency: string, first = 100, after: string | null = null): Promise<Page> {
  const res = await gql<{ markets: Page }>(api.url, MARKETS, { currency, first, after });
  expect(res.errors).toBeUndefined();
  return res.data!.markets;
}

/** What a client sees of the listing in one page of 100: totalCount and the ids in order. */
async function listing(currency: string): Promise<{ totalCount: number; ids: string[] }> {
  const { totalCount, edges } = await page(currency);
  return { totalCount, ids: edges.map((e) => e.node.id) };
}

/** The contract's order: market-cap rank ascending, unranked last, then id (byte-wise). */
const listingOrder = (items: MarketItem[]): string[] =>
  [...items].sort((a, b) => (a.market_cap_rank ?? Infinity) - (b.market_cap_rank ?? Infinity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((i) => i.id);

describe('markets lists the newest run: the top FETCH_MAX_COINS as the upstream ranked them', () => {
  // One story in rounds: each step's expectations follow from the previous step's stored data.
  it('drops a coin that left the top, keeps its coin(id) and last quote, and never lets a skipped item pull coin N+1 in', async () => {
    // Round 0: the upstream's top 10 of 12.
    const round0 = fake.markets('usd');
    await fetchOnce();
    const top0 = listingOrder(round0.slice(0, MAX_COINS));
    expect(top0).toHaveLength(10);
    for (const currency of ['usd', 'eur', 'btc']) {
      await expect.poll(() => listing(currency), { timeout: 1_000, interval: 50 }).toEqual({ totalCount: 10, ids: top0 });
    }
    const [eleventh, twelfth] = round0.slice(MAX_COINS).map((i) => i.id);
    expect(top0).not.toContain(eleventh);

    // Round 1: ethereum (2nd) falls behind every other coin, so the 11th moves into the top 10.
    fake.setRound(1);
    fake.setFaults({ demote: ['ethereum'] });
    const round1 = fake.markets('usd');
    expect(round1.at(-1)?.id).toBe('ethereum');
    await fetchOnce();
    const top1 = listingOrder(round1.slice(0, MAX_COINS));
    expect(top1).toEqual(listingOrder(round0.filter((i) => i.id !== 'ethereum').slice(0, MAX_COINS)));
    expect(top1).toContain(eleventh);
    expect(top1).not.toContain('ethereum');
    expect(top1).not.toContain(twelfth);
    for (const currency of ['usd', 'eur']) {
      await expect.poll(() => listing(currency), { timeout: 1_000, interval: 50 }).toEqual({ totalCount: 10, ids: top1 });
    }
    // Bitcoin is on the new price, ethereum still answers with its round-0 quote and rank.
    const first = await page('usd', 1);
    expect(first.edges[0]?.node).toEqual({
      id: 'bitcoin',
      quote: { price: round1[0]!.current_price, lastUpdated: round1[0]!.last_updated },
    });
    const ethereum0 = round0.find((i) => i.id === 'ethereum')!;
    const coin = await gql(api.url, `{ coin(id: "ethereum") { id name marketCapRank quote(currency: "usd") { price lastUpdated } } }`);
    expect(coin).toEqual({
      status: 200,
      data: {
        coin: {
          id: 'ethereum',
          name: 'Ethereum',
          marketCapRank: 2,
          quote: { price: ethereum0.current_price, lastUpdated: ethereum0.last_updated },
        },
      },
    });

    // Round 2: ethereum is back; the 3rd item is malformed. Its place stays empty: 9 coins, the 11th is out again.
    fake.setRound(2);
    fake.setFaults({ malformedAt: [3] });
    const round2 = fake.markets('usd');
    const skipped = round0[2]!.id;
    expect(round2.map((i) => i.id)).not.toContain(skipped);
    await fetchOnce();
    const top2 = listingOrder(round2.slice(0, MAX_COINS - 1));
    expect(top2).toHaveLength(9);
    expect(top2).toContain('ethereum');
    expect(top2).not.toContain(skipped);
    expect(top2).not.toContain(eleventh);
    await expect.poll(() => listing('usd'), { timeout: 1_000, interval: 50 }).toEqual({ totalCount: 9, ids: top2 });

    // Cursor pagination over the listing: every listed coin once, totalCount the listing's size on every page.
    const shapes: [number, number, boolean][] = [];
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const current: Page = await page('usd', 4, after);
      shapes.push([current.totalCount, current.edges.length, current.pageInfo.hasNextPage]);
      seen.push(...current.edges.map((e) => e.node.id));
      after = current.pageInfo.hasNextPage ? current.pageInfo.endCursor : null;
    } while (after);
    expect(shapes).toEqual([
      [9, 4, true],
      [9, 4, true],
      [9, 1, false],
    ]);
    expect(seen).toEqual(top2);

    // The coin that was skipped keeps its round-1 quote for coin(id).
    const skippedCoin = await gql<{ coin: { quote: { price: number } | null } | null }>(
      api.url,
      `query ($id: ID!) { coin(id: $id) { quote(currency: "usd") { price } } }`,
      { id: skipped },
    );
    expect(skippedCoin.data?.coin?.quote?.price).toBe(round1.find((i) => i.id === skipped)!.current_price);
  });
});

describe('the markets query', () => {
  it('reads a page and the count through indexes on thousands of rows, never a sequential scan', async () => {
    const big = await createTestDatabase('contract_listing_plan');
    try {
      // 3,000 coins with quotes in three currencies; every 6th has left the top and is not listed.
      await big.db.raw(`
        insert into coins (id, symbol, name, market_cap_rank)
          select format('coin-%s', lpad(n::text, 4, '0')), format('c%s', n), format('Coin %s', n), n from generate_series(1, 3000) n;
        insert into latest_quotes (coin_id, currency, last_updated, fetched_at, price)
          select c.id, cur, now(), now(), c.market_cap_rank from coins c cross join unnest(array['usd', 'eur', 'btc']) cur;
        insert into market_listings (currency, coin_id, since_run_id)
          select currency, coin_id, 1 from latest_quotes q join coins c on c.id = q.coin_id where c.market_cap_rank % 6 <> 0;`);
      // As autovacuum leaves them: statistics, and a visibility map for index-only scans.
      await big.db.raw('vacuum analyze coins, latest_quotes, market_listings');
      const statements: { sql: string; bindings: unknown[] }[] = [];
      const capture = (query: { sql: string; bindings?: unknown[] }) => statements.push({ sql: query.sql, bindings: query.bindings ?? [] });
      big.db.on('query', capture);
      const first = await marketsPage(big.db, 'eur', 100, undefined);
      const later = await marketsPage(big.db, 'eur', 100, { rank: 1201, id: 'coin-1201' });
      big.db.off('query', capture);

      const listedRanks = (from: number) =>
        Array.from({ length: 3000 }, (_, i) => i + 1)
          .filter((n) => n > from && n % 6 !== 0)
          .slice(0, 100);
      expect([first.totalCount, first.hasNextPage, later.totalCount]).toEqual([2500, true, 2500]);
      expect(first.rows.map((r) => r.market_cap_rank)).toEqual(listedRanks(0));
      expect(later.rows.map((r) => r.market_cap_rank)).toEqual(listedRanks(1201));

      expect(statements).toHaveLength(4);
      for (const { sql, bindings } of statements) {
        const { rows } = await big.db.raw<{ rows: { 'QUERY PLAN': string }[] }>(`explain ${sql.replace(/\$\d+/g, '?')}`, bindings as readonly string[]);
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan).not.toContain('Seq Scan');
        expect(plan).toContain('market_listings_pkey');
        if (sql.includes('coins')) expect(plan).toContain('coins_rank_id_idx');
      }
    } finally {
      await big.destroy();
    }
  });
});
