import type { FetchRunRow, CoinRow, QuoteRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, runScript, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { count, expectedQuote, fetcherEnv, runInProcess, storedQuotes, truncateAll } from './helpers.js';

const CURRENCIES = ['usd', 'eur', 'btc'];
// More than one page of 250, so paging is exercised.
const COINS = 300;

let fake: FakeCoinGecko;
let t: TestDatabase;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: COINS }), createTestDatabase('fetcher_run')]);
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
});
beforeEach(async () => {
  fake.reset();
  await truncateAll(t);
});

const env = (extra: Record<string, string> = {}) => fetcherEnv(t, fake.url, extra);
const runs = () => t.db<FetchRunRow>('fetch_runs').orderBy('id');
const marketRequests = () => fake.requests.filter((r) => r.path.endsWith('/coins/markets'));

describe('a fetcher run', () => {
  it('stores exactly what the upstream served: numbers unchanged, nulls kept', async () => {
    const result = await runInProcess(t, env());

    for (const currency of CURRENCIES) {
      const expected = fake.markets(currency).map((item) => expectedQuote(item, currency));
      expect(expected).toHaveLength(COINS);
      const byId = (a: { coin_id: string }, b: { coin_id: string }) => (a.coin_id < b.coin_id ? -1 : 1);
      expect(await storedQuotes(t, 'latest_quotes', currency)).toEqual([...expected].sort(byId));
      expect(await storedQuotes(t, 'quote_snapshots', currency)).toEqual([...expected].sort(byId));
    }
    // The traps of the real API, checked by value.
    const tiny = await t.db<QuoteRow>('latest_quotes').where({ coin_id: 'tiny-price-token', currency: 'usd' }).first();
    expect(tiny).toMatchObject({ price: 0.00001234, price_change_24h: -0.00006 });
    const spaced = await t.db<CoinRow>('coins').where({ id: '1move token' }).first();
    expect(spaced).toMatchObject({ symbol: '1mt', name: '1Move Token' });
    const coins = await t.db<CoinRow>('coins').orderBy('id').select('id', 'symbol', 'name', 'image', 'market_cap_rank');
    expect(coins).toEqual(
      fake
        .markets('usd')
        .map((i) => ({ id: i.id, symbol: i.symbol, name: i.name, image: i.image, market_cap_rank: i.market_cap_rank }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
    expect(coins.filter((c) => c.market_cap_rank === null).length).toBeGreaterThan(0);

    expect(result).toMatchObject({ coinsUpdated: COINS, snapshotsInserted: COINS * 3, itemsReceived: COINS * 3, itemsSkipped: 0, requests: 6 });
    expect(await runs()).toMatchObject([
      { status: 'succeeded', coins_updated: COINS, snapshots_inserted: COINS * 3, items_skipped: 0, requests: 6, error: null },
    ]);
    // The contract's request: every page asked with the documented parameters.
    expect(marketRequests()[0]?.query).toEqual({
      vs_currency: 'usd',
      order: 'market_cap_desc',
      per_page: '250',
      page: '1',
      sparkline: 'false',
      price_change_percentage: '24h',
    });
  });

  it('adds no snapshot when the upstream data is unchanged, and one per changed quote in the next round', async () => {
    await runInProcess(t, env());
    const again = await runInProcess(t, env());
    expect(again.snapshotsInserted).toBe(0);
    expect(await count(t, 'quote_snapshots')).toBe(COINS * 3);

    fake.setRound(1);
    const next = await runInProcess(t, env());
    const stale = fake.markets('usd').filter((i) => i.high_24h === null && i.price_change_24h === null).length;
    expect(stale).toBe(1);
    expect(next.snapshotsInserted).toBe((COINS - stale) * 3);
    expect(await count(t, 'quote_snapshots')).toBe(COINS * 3 * 2 - stale * 3);
    const bitcoin = await t.db<QuoteRow>('latest_quotes').where({ coin_id: 'bitcoin', currency: 'usd' }).first();
    expect(bitcoin?.price).toBe(fake.markets('usd').find((i) => i.id === 'bitcoin')?.current_price);
  });

  it('waits out a 429 for its Retry-After, then succeeds', async () => {
    fake.setFaults({ rateLimit: { count: 1, retryAfterSeconds: 1 } });
    const result = await runInProcess(t, env());
    expect(result.upstreamErrors).toEqual({ '429': 1 });
    const [limited, retried] = marketRequests();
    expect([limited?.status, retried?.status]).toEqual([429, 200]);
    expect(retried?.query).toEqual(limited?.query);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
    expect(await count(t, 'quote_snapshots')).toBe(COINS * 3);
  });

  it("survives Cloudflare's HTML 429 page without a Retry-After", async () => {
    fake.setFaults({ rateLimit: { count: 2, html: true } });
    const result = await runInProcess(t, env());
    expect(result.upstreamErrors).toEqual({ '429': 2 });
    expect(await count(t, 'quote_snapshots')).toBe(COINS * 3);
  });

  it('retries 5xx with backoff and succeeds when the upstream recovers', async () => {
    fake.setFaults({ serverError: { count: 2, status: 502 } });
    const result = await runInProcess(t, env());
    expect(result.upstreamErrors).toEqual({ '502': 2 });
    expect(
      marketRequests()
        .map((r) => r.status)
        .slice(0, 3),
    ).toEqual([502, 502, 200]);
  });

  it('skips and counts malformed items and stores the rest', async () => {
    fake.setFaults({ malformedItems: true });
    const result = await runInProcess(t, env());
    expect(result.itemsSkipped).toBe(4 * 3);
    expect(result.itemsReceived).toBe((COINS + 4) * 3);
    for (const currency of CURRENCIES) {
      expect(await count(t, 'quote_snapshots')).toBe(COINS * 3);
      expect((await storedQuotes(t, 'latest_quotes', currency)).map((q) => q.coin_id).sort()).toEqual(
        fake
          .markets(currency)
          .map((i) => i.id)
          .sort(),
      );
    }
    expect((await runs())[0]).toMatchObject({ status: 'succeeded', items_skipped: 12 });
  });

  it('sends the API key header', async () => {
    const keyed = await startFakeCoinGecko({ coins: 10, apiKey: 'demo-key-123' });
    try {
      const denied = runInProcess(t, { ...fetcherEnv(t, keyed.url), FETCH_CURRENCIES: 'usd' });
      await expect(denied).rejects.toThrow(/401/);
      await runInProcess(t, { ...fetcherEnv(t, keyed.url, { COINGECKO_API_KEY: 'demo-key-123' }), FETCH_CURRENCIES: 'usd' });
      expect(keyed.requests.at(-1)?.headers['x-cg-demo-api-key']).toBe('demo-key-123');
      expect(keyed.requests.at(-1)?.status).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});

describe('`npm run fetch`', () => {
  it('exits 1 on a persistent 5xx and leaves every earlier snapshot intact, recording only the failed run', async () => {
    expect((await runScript('jobs/fetcher/src/main.ts', env())).code).toBe(0);
    const before = { latest: await storedQuotes(t, 'latest_quotes', 'usd'), snapshots: await count(t, 'quote_snapshots') };

    fake.requests.splice(0);
    fake.setRound(1);
    // Let usd and eur (two pages each) through, then fail for good: a half-written run would show.
    fake.setFaults({ delayMs: 50 });
    const trip = setInterval(() => {
      if (marketRequests().length >= 4) fake.setFaults({ serverError: { count: 'always', status: 503 } });
    }, 2);
    const failed = await runScript('jobs/fetcher/src/main.ts', env({ FETCH_RETRIES: '2' })).finally(() => clearInterval(trip));
    const served = marketRequests().map((r) => r.status);

    expect(failed.code).toBe(1);
    expect(served).toEqual([200, 200, 200, 200, 503, 503, 503]);
    const summary = failed.logs.find((l) => l.msg === 'fetch run failed');
    expect(summary?.error).toBe('GET /coins/markets: HTTP 503');
    expect(await storedQuotes(t, 'latest_quotes', 'usd')).toEqual(before.latest);
    expect(await count(t, 'quote_snapshots')).toBe(before.snapshots);
    expect(await runs()).toMatchObject([
      { status: 'succeeded' },
      { status: 'failed', error: 'GET /coins/markets: HTTP 503', snapshots_inserted: 0, upstream_errors: { '503': 3 } },
    ]);
  });

  it('two runs at once neither duplicate nor lose a snapshot: the second waits for the first', async () => {
    fake.setFaults({ delayMs: 200 });
    const [a, b] = await Promise.all([runScript('jobs/fetcher/src/main.ts', env()), runScript('jobs/fetcher/src/main.ts', env())]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(await count(t, 'quote_snapshots')).toBe(COINS * 3);
    const [first, second] = await runs();
    expect([first?.status, second?.status]).toEqual(['succeeded', 'succeeded']);
    expect((first?.snapshots_inserted ?? 0) + (second?.snapshots_inserted ?? 0)).toBe(COINS * 3);
    expect(second!.started_at.getTime()).toBeGreaterThanOrEqual(first!.finished_at!.getTime());
  });

  it('stops at its deadline when the upstream hangs, exits 1 and says why', async () => {
    fake.setFaults({ hang: true });
    const started = Date.now();
    const result = await runScript('jobs/fetcher/src/main.ts', env({ FETCH_DEADLINE_SECONDS: '2' }));
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.logs.find((l) => l.msg === 'fetch run failed')?.error).toBe('deadline of 2s exceeded');
    expect(await runs()).toMatchObject([{ status: 'failed', error: 'deadline of 2s exceeded' }]);
  });
});
