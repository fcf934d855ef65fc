import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, metric, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;
const fetcherEnv = () => ({ DATABASE_URL: t.url, COINGECKO_BASE_URL: fake.url, COINGECKO_RATE_LIMIT_PER_MIN: '10000', FETCH_MAX_COINS: '20' });

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('response_cache')]);
  expect((await runScript('jobs/fetcher/src/main.ts', fetcherEnv())).code).toBe(0);
  api = await startApi({ DATABASE_URL: t.url, RESPONSE_CACHE_TTL_MS: '2000' });
});
afterAll(async () => {
  await api.stop();
  await Promise.all([fake.close(), t.destroy()]);
});

const subgraphRequests = async () =>
  (await metric(api.gateway.url, 'cryptoagg_subgraph_request_duration_seconds_count{subgraph="prices",outcome="success"}')) +
  (await metric(api.gateway.url, 'cryptoagg_subgraph_request_duration_seconds_count{subgraph="coins",outcome="success"}'));
const gatewayCache = (result: string) => metric(api.gateway.url, `cryptoagg_cache_requests_total{result="${result}"}`);

it('the gateway answers a repeated query from its response cache, without asking the subgraphs, and errors are never cached', async () => {
  const variables = { currency: 'usd', first: 7 };
  const first = await gql(api.url, OPERATIONS, variables, 'Markets');
  const asked = await subgraphRequests();
  const hits = await gatewayCache('hit');
  const again = await gql(api.url, OPERATIONS, variables, 'Markets');
  expect(again).toEqual(first);
  expect(await subgraphRequests()).toBe(asked);
  expect(await gatewayCache('hit')).toBe(hits + 1);
  // Concurrent identical requests share one execution.
  const burst = await Promise.all(Array.from({ length: 10 }, () => gql(api.url, OPERATIONS, { currency: 'eur', first: 3 }, 'Markets')));
  expect(new Set(burst.map((b) => JSON.stringify(b))).size).toBe(1);
  expect(await subgraphRequests()).toBe(asked + 2);

  const bad = await gql(api.url, OPERATIONS, { first: 0 }, 'Markets');
  const missesBefore = await gatewayCache('miss');
  expect(await gql(api.url, OPERATIONS, { first: 0 }, 'Markets')).toEqual(bad);
  expect(await gatewayCache('miss')).toBe(missesBefore + 1);
});

it('still shows a new fetcher run within 5 seconds', async () => {
  const ask = async () =>
    (await gql<{ markets: { edges: { node: { quote: { price: number } } }[] } }>(api.url, OPERATIONS, { currency: 'usd', first: 1 }, 'Markets')).data?.markets
      .edges[0]?.node.quote.price;
  await ask();
  fake.setRound(1);
  expect((await runScript('jobs/fetcher/src/main.ts', fetcherEnv())).code).toBe(0);
  const done = Date.now();
  const fresh = fake.markets('usd').find((i) => i.id === 'bitcoin')!.current_price;
  await expect.poll(ask, { timeout: 5_000, interval: 100 }).toBe(fresh);
  expect(Date.now() - done).toBeLessThan(5_000);
});
