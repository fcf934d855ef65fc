import type { FetchRunRow } from '@cryptoagg/db';
import { startFakeCoinGecko, startFakeExchanges, type FakeCoinGecko, type FakeExchanges } from '@cryptoagg/fake-upstream';
import { createTestDatabase, freePort, gql, startScript, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

/** The offline demo of the README: `npm start` pointed at the fake upstream reads its fake exchanges and serves consensus prices. */
let cg: FakeCoinGecko;
let ex: FakeExchanges;
let t: TestDatabase;
beforeAll(async () => {
  ex = await startFakeExchanges();
  [cg, t] = await Promise.all([startFakeCoinGecko({ coins: 20, exchanges: ex.env }), createTestDatabase('start_sources', { migrate: false })]);
});
afterAll(async () => {
  await Promise.all([cg.close(), ex.close(), t.destroy()]);
});

interface Answer {
  coin: { quote: { consensus: { sourceCount: number; outliers: string[] } | null; sources: { source: string }[] } | null } | null;
}

it('`npm start` with the fake upstream serves consensus prices from CoinGecko and the three fake exchanges', async () => {
  const [gatewayPort, coinsPort, pricesPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const stack = startScript('tools/stack/src/start.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: cg.url,
    EXCHANGE_SOURCES: 'binance,coinbase,kraken',
    FETCH_MAX_COINS: '20',
    GATEWAY_PORT: String(gatewayPort),
    COINS_PORT: String(coinsPort),
    PRICES_PORT: String(pricesPort),
  });
  try {
    await expect.poll(async () => (await t.db<FetchRunRow>('fetch_runs').where({ status: 'succeeded' })).length, { timeout: 30_000, interval: 200 }).toBe(1);
    expect(stack.output()).toContain(`the fake upstream runs fake exchanges: reading them (BINANCE_BASE_URL=${ex.binance.url}`);
    const query = '{ coin(id: "bitcoin") { quote(currency: "usd") { consensus { sourceCount outliers } sources { source } } } }';
    await expect
      .poll(async () => (await gql<Answer>(`http://127.0.0.1:${gatewayPort}/graphql`, query).catch(() => undefined))?.data?.coin?.quote?.consensus, {
        timeout: 30_000,
        interval: 250,
      })
      .toEqual({ sourceCount: 4, outliers: [] });
    for (const fake of [ex.binance, ex.coinbase, ex.kraken]) expect(fake.requests.length).toBeGreaterThan(0);
  } finally {
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
  }
});
