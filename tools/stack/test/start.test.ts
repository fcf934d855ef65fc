import type { FetchRunRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, freePort, startScript, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('start', { migrate: false })]);
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
});

async function markets(gatewayPort: number): Promise<unknown> {
  try {
    const response = await fetch(`http://127.0.0.1:${gatewayPort}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ markets(first: 2) { totalCount edges { node { id name quote { price } } } } }' }),
    });
    return await response.json();
  } catch {
    return undefined;
  }
}

it('`npm start` migrates, serves the API through the gateway, runs the fetcher at once, and stops cleanly on SIGTERM', async () => {
  const [gatewayPort, coinsPort, pricesPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const stack = startScript('tools/stack/src/start.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    FETCH_MAX_COINS: '20',
    FETCH_CURRENCIES: 'usd',
    GATEWAY_PORT: String(gatewayPort),
    COINS_PORT: String(coinsPort),
    PRICES_PORT: String(pricesPort),
  });
  try {
    await expect.poll(async () => (await t.db<FetchRunRow>('fetch_runs').where({ status: 'succeeded' })).length, { timeout: 30_000, interval: 200 }).toBe(1);
    expect(stack.output()).toContain('[fetcher] ');
    expect(stack.output()).toContain('fetch run succeeded');
    const latest = await t.db('latest_quotes').count<{ count: number }[]>('* as count');
    expect(Number(latest[0]?.count)).toBe(20);
    const bitcoin = fake.markets('usd')[0]!;
    await expect
      .poll(() => markets(gatewayPort), { timeout: 30_000, interval: 250 })
      .toMatchObject({
        data: { markets: { totalCount: 20, edges: [{ node: { id: 'bitcoin', name: 'Bitcoin', quote: { price: bitcoin.current_price } } }, {}] } },
      });
    for (const name of ['[coins  ] ', '[prices ] ', '[gateway] ']) expect(stack.output()).toContain(name);
  } finally {
    const stoppedAt = Date.now();
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  }
  expect(stack.output()).toContain('stopped');
});

it('when the upstream cannot be reached, the log says why and the API keeps serving what is stored', async () => {
  const [gatewayPort, coinsPort, pricesPort, closedPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const stack = startScript('tools/stack/src/start.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: `http://127.0.0.1:${closedPort}/api/v3`,
    FETCH_RETRIES: '0',
    FETCH_CURRENCIES: 'usd',
    GATEWAY_PORT: String(gatewayPort),
    COINS_PORT: String(coinsPort),
    PRICES_PORT: String(pricesPort),
  });
  try {
    await expect.poll(() => stack.output(), { timeout: 30_000, interval: 250 }).toMatch(/fetch run failed[\s\S]*ECONNREFUSED/);
    await expect.poll(() => markets(gatewayPort), { timeout: 30_000, interval: 250 }).toMatchObject({ data: { markets: { totalCount: 20 } } });
  } finally {
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
  }
});
