/**
 * How the gateway follows the data version, on the whole API over a database of its own (no fetcher
 * run: version 0) and the test Redis: a version published in Redis reaches it at once; an answer a
 * subgraph computed from an older version than one the gateway has seen is answered but never kept;
 * identical subgraph requests in flight (response caches off) reach the subgraph once.
 */
import { randomBytes } from 'node:crypto';
import { publishDataVersion } from '@cryptoagg/cache';
import { createTestDatabase, gql, metric, startApi, type Api, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

let t: TestDatabase;
const redisUrl = inject('redisUrl');
const prefix = `gateway-data-version:${randomBytes(4).toString('hex')}:`;

beforeAll(async () => {
  t = await createTestDatabase('gateway_data_version');
});
afterAll(async () => {
  await t?.destroy();
});

async function withApi<T>(env: Record<string, string>, use: (api: Api) => Promise<T>): Promise<T> {
  const api = await startApi({ DATABASE_URL: t.url, ...env });
  try {
    return await use(api);
  } finally {
    await api.stop();
  }
}

const subgraphFetches = (api: Api) => metric(api.gateway.url, 'cryptoagg_subgraph_request_duration_seconds_count{subgraph="prices",outcome="success"}');

/** FetchStatus through the gateway, raw: its body and the data version it says it was computed from. */
async function fetchStatus(api: Api): Promise<{ body: unknown; version: string | null }> {
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ fetchStatus { lastSuccessAt coinsUpdated } }' }),
  });
  return { body: await response.json(), version: response.headers.get('x-cryptoagg-data-version') };
}

it('never keeps an answer computed from an older data version than one it has seen, but still answers', async () => {
  expect(redisUrl, 'Redis is required for this test').not.toBe('');
  await withApi({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix }, async (api) => {
    const empty = { body: { data: { fetchStatus: { lastSuccessAt: null, coinsUpdated: 0 } } }, version: '0' };
    expect(await fetchStatus(api)).toEqual(empty);
    const before = await subgraphFetches(api);
    expect(await fetchStatus(api)).toEqual(empty);
    expect(await subgraphFetches(api)).toBe(before);

    // Redis says version 1000, which the database (and so the subgraphs) has never heard of.
    expect(await publishDataVersion(redisUrl, prefix, 1_000)).toBe(1_000);
    // The gateway hears of it at once (its /healthz says the newest version it knows).
    await expect
      .poll(async () => (await fetch(`${api.gateway.url}/healthz`)).headers.get('x-cryptoagg-data-version'), { timeout: 1_000, interval: 20 })
      .toBe('1000');
    // Each answer, computed from version 0, is answered as such and never kept: every one asks the subgraph.
    for (let i = 1; i <= 3; i++) {
      const fetched = await subgraphFetches(api);
      expect(await fetchStatus(api)).toEqual(empty);
      expect(await subgraphFetches(api)).toBe(fetched + 1);
    }
  });
});

it('sends identical concurrent subgraph requests once (response caches off): the others wait for its answer', async () => {
  await withApi({ RESPONSE_CACHE_TTL_MS: '0' }, async (api) => {
    const requests = () => metric(api.service('prices').url, 'cryptoagg_graphql_request_duration_seconds_count{operation="Markets",outcome="success"}');
    const before = await requests();
    // The page query waits on a lock the test holds, so that every client's subgraph request is in flight at once.
    let answers: Promise<unknown>[] = [];
    await t.db.transaction(async (trx) => {
      await trx.raw('lock table latest_quotes in access exclusive mode');
      answers = Array.from({ length: 10 }, () => gql(api.url, 'query Markets { markets(currency: "usd", first: 7) { totalCount } }', {}, 'Markets'));
      await expect
        .poll(
          async () =>
            (await t.db.raw<{ rows: unknown[] }>("select 1 from pg_stat_activity where application_name = 'cryptoagg-prices' and wait_event_type = 'Lock'"))
              .rows.length,
          {
            timeout: 5_000,
            interval: 20,
          },
        )
        .toBe(1);
      // Room for any request that would wrongly be sent on its own to arrive and queue on the lock too.
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 10 }, () => ({ status: 200, data: { markets: { totalCount: 0 } } })));
    expect(await requests()).toBe(before + 1);
  });
});
