import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import type { FetchRunRow, QuoteRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko, type MarketItem } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;

const fetcherEnv = () => ({
  DATABASE_URL: t.url,
  COINGECKO_BASE_URL: fake.url,
  COINGECKO_RATE_LIMIT_PER_MIN: '10000',
  FETCH_METADATA_PER_RUN: '250',
  LOG_LEVEL: 'warn',
});

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 250 }), createTestDatabase('contract_ops')]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', fetcherEnv());
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
  const redisUrl = inject('redisUrl');
  api = await startApi({
    DATABASE_URL: t.url,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    REDIS_KEY_PREFIX: `contract-ops-${Date.now()}:`,
  });
});
afterAll(async () => {
  await api.stop();
  await Promise.all([fake.close(), t.destroy()]);
});

/** The contract's order: market-cap rank ascending, unranked last, then id (byte-wise). */
function listingOrder(items: MarketItem[]): MarketItem[] {
  return [...items].sort((a, b) => (a.market_cap_rank ?? Infinity) - (b.market_cap_rank ?? Infinity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function fetchedAt(coinId: string, currency: string): Promise<string> {
  const row = await t.db<QuoteRow>('latest_quotes').where({ coin_id: coinId, currency }).first();
  return row!.fetched_at.toISOString();
}

interface MarketsPage {
  markets: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    edges: { cursor: string; node: Record<string, unknown> & { id: string; quote: Record<string, unknown> | null } }[];
  };
}

describe('the contract operations through the gateway', () => {
  it('keeps a pinned copy of the contract operations that matches the contract', () => {
    const contract = path.join(REPO_ROOT, '..', 'shared', 'contract', 'operations.graphql');
    if (existsSync(contract)) expect(OPERATIONS).toBe(readFileSync(contract, 'utf8'));
  });

  it('Markets: the first page in listing order, with the upstream numbers unchanged', async () => {
    const res = await gql<MarketsPage>(api.url, OPERATIONS, { currency: 'usd', first: 100 }, 'Markets');
    expect(res.errors).toBeUndefined();
    const expected = listingOrder(fake.markets('usd')).slice(0, 100);
    const page = res.data!.markets;
    expect(page.totalCount).toBe(250);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.edges.map((e) => e.node.id)).toEqual(expected.map((i) => i.id));
    const bitcoin = expected[0]!;
    expect(page.edges[0]!.node).toEqual({
      id: 'bitcoin',
      symbol: 'btc',
      name: 'Bitcoin',
      image: bitcoin.image,
      marketCapRank: 1,
      quote: {
        currency: 'usd',
        price: bitcoin.current_price,
        marketCap: bitcoin.market_cap,
        totalVolume: bitcoin.total_volume,
        high24h: bitcoin.high_24h,
        low24h: bitcoin.low_24h,
        priceChange24h: bitcoin.price_change_24h,
        priceChangePercentage24h: bitcoin.price_change_percentage_24h,
        circulatingSupply: bitcoin.circulating_supply,
        lastUpdated: bitcoin.last_updated,
        fetchedAt: await fetchedAt('bitcoin', 'usd'),
      },
    });
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
  });

  it('Markets: pages through to the last page, every coin once, in eur too', async () => {
    for (const currency of ['usd', 'eur']) {
      const seen: string[] = [];
      let after: string | null = null;
      const shapes: [number, boolean][] = [];
      do {
        const res: Awaited<ReturnType<typeof gql<MarketsPage>>> = await gql<MarketsPage>(api.url, OPERATIONS, { currency, first: 100, after }, 'Markets');
        expect(res.errors).toBeUndefined();
        const page = res.data!.markets;
        expect(page.totalCount).toBe(250);
        seen.push(...page.edges.map((e) => e.node.id));
        shapes.push([page.edges.length, page.pageInfo.hasNextPage]);
        for (const edge of page.edges) expect(edge.node.quote?.currency).toBe(currency);
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
      } while (after);
      expect(shapes).toEqual([
        [100, true],
        [100, true],
        [50, false],
      ]);
      expect(seen).toEqual(listingOrder(fake.markets(currency)).map((i) => i.id));
    }
  });

  it('Markets: a tiny price and upstream nulls come back exactly', async () => {
    const res = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: OPERATIONS, operationName: 'Markets', variables: { currency: 'usd', first: 250 } }),
    });
    const text = await res.text();
    const page = (JSON.parse(text) as { data: MarketsPage }).data.markets;
    const tiny = page.edges.find((e) => e.node.id === 'tiny-price-token')!.node.quote!;
    expect(tiny.price).toBe(0.00001234);
    expect(tiny.priceChange24h).toBe(-0.00006);
    expect(text).toContain('"price":0.00001234');
    const staleId = fake.markets('usd').find((i) => i.high_24h === null)!.id;
    const stale = page.edges.find((e) => e.node.id === staleId)!.node.quote!;
    expect(stale).toMatchObject({ high24h: null, low24h: null, priceChange24h: null, priceChangePercentage24h: null });
    const unranked = page.edges.at(-1)!.node;
    expect(unranked.marketCapRank).toBeNull();
  });

  it('CoinDetail: metadata from the coins subgraph, the quote from the prices subgraph', async () => {
    const res = await gql(api.url, OPERATIONS, { id: 'bitcoin', currency: 'eur' }, 'CoinDetail');
    expect(res.errors).toBeUndefined();
    const detail = fake.coinDetail('bitcoin')!;
    const eur = fake.markets('eur').find((i) => i.id === 'bitcoin')!;
    expect(res.data).toEqual({
      coin: {
        id: 'bitcoin',
        symbol: 'btc',
        name: 'Bitcoin',
        image: eur.image,
        marketCapRank: 1,
        description: detail.description.en,
        homepage: 'http://www.bitcoin.org',
        categories: detail.categories.filter((c) => c !== null),
        genesisDate: '2009-01-03',
        quote: { currency: 'eur', price: eur.current_price, marketCap: eur.market_cap, fetchedAt: await fetchedAt('bitcoin', 'eur') },
      },
    });
  });

  it('CoinDetail: an id with a space works; an unknown id is null without errors; no quote is null', async () => {
    const spaced = await gql<{ coin: { id: string; name: string } }>(api.url, OPERATIONS, { id: '1move token' }, 'CoinDetail');
    expect(spaced.data?.coin).toMatchObject({ id: '1move token', name: '1Move Token' });
    const unknown = await gql(api.url, OPERATIONS, { id: 'no-such-coin', currency: 'usd' }, 'CoinDetail');
    expect(unknown).toEqual({ status: 200, data: { coin: null } });
  });

  it('SearchCoins: name or symbol, case-insensitive, in listing order, paged', async () => {
    const expected = listingOrder(fake.markets('usd')).filter((i) => /bit/i.test(i.name) || /bit/i.test(i.symbol));
    expect(expected.length).toBeGreaterThan(3);
    const first = await gql<{
      coins: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string };
        edges: { node: { id: string; symbol: string; name: string; marketCapRank: number | null } }[];
      };
    }>(api.url, OPERATIONS, { search: 'BiT', first: 2 }, 'SearchCoins');
    expect(first.errors).toBeUndefined();
    expect(first.data!.coins.totalCount).toBe(expected.length);
    expect(first.data!.coins.edges.map((e) => e.node)).toEqual(
      expected.slice(0, 2).map((i) => ({ id: i.id, symbol: i.symbol, name: i.name, marketCapRank: i.market_cap_rank })),
    );
    const rest = await gql<{ coins: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean } } }>(
      api.url,
      OPERATIONS,
      { search: 'bit', first: 250, after: first.data!.coins.pageInfo.endCursor },
      'SearchCoins',
    );
    expect(rest.data!.coins.edges.map((e) => e.node.id)).toEqual(expected.slice(2).map((i) => i.id));
    expect(rest.data!.coins.pageInfo.hasNextPage).toBe(false);
    const all = await gql<{ coins: { totalCount: number } }>(api.url, OPERATIONS, {}, 'SearchCoins');
    expect(all.data!.coins.totalCount).toBe(250);
  });

  it('FetchStatus: the last run as recorded', async () => {
    const [run] = await t.db<FetchRunRow>('fetch_runs').orderBy('id', 'desc').limit(1);
    const res = await gql(api.url, OPERATIONS, {}, 'FetchStatus');
    expect(res.data).toEqual({
      fetchStatus: { lastSuccessAt: run!.finished_at!.toISOString(), lastAttemptAt: run!.started_at.toISOString(), coinsUpdated: 250 },
    });
  });

  it('shows a new fetcher run through the gateway within 5 seconds, cache or not', async () => {
    const before = await gql<MarketsPage>(api.url, OPERATIONS, { currency: 'usd', first: 1 }, 'Markets');
    fake.setRound(1);
    const fresh = fake.markets('usd').find((i) => i.id === 'bitcoin')!;
    expect(before.data!.markets.edges[0]!.node.quote!.price).not.toBe(fresh.current_price);
    const fetched = await runScript('jobs/fetcher/src/main.ts', fetcherEnv());
    expect(fetched.code).toBe(0);
    const done = Date.now();
    await expect
      .poll(async () => (await gql<MarketsPage>(api.url, OPERATIONS, { currency: 'usd', first: 1 }, 'Markets')).data!.markets.edges[0]!.node.quote!.price, {
        timeout: 5_000,
        interval: 100,
      })
      .toBe(fresh.current_price);
    expect(Date.now() - done).toBeLessThan(5_000);
    const status = await gql<{ fetchStatus: { coinsUpdated: number; lastSuccessAt: string } }>(api.url, OPERATIONS, {}, 'FetchStatus');
    const [run] = await t.db<FetchRunRow>('fetch_runs').orderBy('id', 'desc').limit(1);
    expect(status.data!.fetchStatus.lastSuccessAt).toBe(run!.finished_at!.toISOString());
  });
});
