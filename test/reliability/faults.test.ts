import { createDb, migrateLatest, type FetchRunRow, type Knex } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { DATA_STORE_UNAVAILABLE } from '@cryptoagg/graphql';
import { type Api, gql, OPERATIONS, runScript, startApi, startScratchPostgres, startScript, type ScratchPostgres } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Faults need a PostgreSQL this file may stop and start: a private embedded
 * server whose data survives the restart, on a port of its own.
 */
let postgres: ScratchPostgres;
let db: Knex;
let fake: FakeCoinGecko;
let api: Api;

const env = (extra: Record<string, string> = {}) => ({
  DATABASE_URL: postgres.url,
  COINGECKO_BASE_URL: fake.url,
  COINGECKO_RATE_LIMIT_PER_MIN: '10000',
  FETCH_MAX_COINS: '20',
  FETCH_RETRY_BASE_MS: '20',
  ...extra,
});
const snapshots = async () => Number((await db('quote_snapshots').count<{ count: number }[]>('* as count'))[0]?.count);

async function readyz(url: string) {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as unknown };
}

beforeAll(async () => {
  postgres = await startScratchPostgres('faults');
  fake = await startFakeCoinGecko({ coins: 20 });
  db = createDb({ url: postgres.url, poolMax: 2 });
  await migrateLatest(db);
  expect((await runScript('jobs/fetcher/src/main.ts', env())).code).toBe(0);
  // Production mode, as deployed: no stack traces in answers.
  api = await startApi({ DATABASE_URL: postgres.url, NODE_ENV: 'production', SUBGRAPH_SECRET: 'faults-test-secret-0123456789' });
});
afterAll(async () => {
  await api.stop();
  await db.destroy();
  await fake.close();
  await postgres.stop();
});

describe('PostgreSQL down', () => {
  it('readyz names it, queries say the data store is unavailable (no stack), and everything recovers without a restart', async () => {
    await postgres.pause();
    expect(await readyz(api.service('coins').url)).toEqual({ status: 503, body: { status: 'unavailable', down: ['postgres'], checks: { postgres: 'down' } } });
    expect(await readyz(api.service('prices').url)).toMatchObject({ status: 503, body: { down: ['postgres'] } });

    // Nothing of this is cached yet, so the subgraphs must ask the database.
    const down = await gql(api.url, OPERATIONS, { search: 'ether', first: 7 }, 'SearchCoins');
    expect(down.errors?.[0]).toMatchObject({ message: DATA_STORE_UNAVAILABLE, extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(JSON.stringify(down)).not.toMatch(/stacktrace|ECONNREFUSED|\n\s+at /);

    await postgres.resume();
    await expect.poll(async () => (await readyz(api.service('coins').url)).status, { timeout: 15_000, interval: 200 }).toBe(200);
    await expect.poll(async () => (await readyz(api.service('prices').url)).status, { timeout: 15_000, interval: 200 }).toBe(200);
    const back = await gql<{ coins: { totalCount: number } }>(api.url, OPERATIONS, { search: 'ether', first: 7 }, 'SearchCoins');
    expect(back.errors).toBeUndefined();
    expect(back.data?.coins.totalCount).toBeGreaterThan(0);
  });

  it('a restart during a fetch run: the run fails cleanly, nothing partial is stored, the next run succeeds', async () => {
    const before = await snapshots();
    fake.setRound(1);
    fake.setFaults({ delayMs: 150 });
    fake.requests.splice(0);
    const run = startScript('jobs/fetcher/src/main.ts', env({ FETCH_RETRIES: '0' }));
    // Stop the server while the run is talking to the upstream (after its lock and run record).
    await expect.poll(() => fake.requests.filter((r) => r.path === '/coins/markets').length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(1);
    await postgres.pause();
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/fetch run failed/);
    await postgres.resume();
    fake.setFaults({});

    await expect.poll(async () => snapshots().catch(() => -1), { timeout: 15_000, interval: 200 }).toBe(before);
    expect((await runScript('jobs/fetcher/src/main.ts', env())).code).toBe(0);
    expect(await snapshots()).toBe(before + 60);
    const runs = await db<FetchRunRow>('fetch_runs').orderBy('id');
    expect(runs.at(-1)).toMatchObject({ status: 'succeeded', snapshots_inserted: 60 });
    // The interrupted run is recorded as failed (by itself or, if it could not, as abandoned by the next run).
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
    expect(runs.at(-2)).toMatchObject({ status: 'failed', snapshots_inserted: 0 });
  });
});

describe('a subgraph down', () => {
  it("the gateway answers the other subgraph's fields with an error for the missing ones, readyz says which, and it recovers", async () => {
    await api.service('prices').stop();
    const partial = await gql<{ coin: { name: string; quote: unknown } }>(api.url, OPERATIONS, { id: 'bitcoin', currency: 'usd' }, 'CoinDetail');
    expect(partial.data?.coin).toMatchObject({ name: 'Bitcoin', quote: null });
    expect(partial.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([
      ['The prices service is unavailable; try again shortly', 'SERVICE_UNAVAILABLE'],
    ]);
    expect(JSON.stringify(partial)).not.toMatch(/\n\s+at /);
    expect(await readyz(api.gateway.url)).toEqual({ status: 503, body: { status: 'unavailable', down: ['prices'], checks: { coins: 'up', prices: 'down' } } });

    await api.restart('prices');
    await expect.poll(async () => (await readyz(api.gateway.url)).status, { timeout: 10_000, interval: 200 }).toBe(200);
    const whole = await gql<{ coin: { quote: { currency: string } } }>(api.url, OPERATIONS, { id: 'bitcoin', currency: 'usd' }, 'CoinDetail');
    expect(whole.errors).toBeUndefined();
    expect(whole.data?.coin.quote.currency).toBe('usd');
  });
});
