import { DATA_VERSION_CHANNEL, DATA_VERSION_KEY } from '@cryptoagg/cache';
import { DATA_CHANGED_CHANNEL, type CoinRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { fetcherEnv, runInProcess, truncateAll } from './helpers.js';

let fake: FakeCoinGecko;
let t: TestDatabase;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 250 }), createTestDatabase('fetcher_meta')]);
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
});
beforeEach(async () => {
  fake.reset();
  await truncateAll(t);
});

const detailRequests = () => fake.requests.filter((r) => /^\/coins\/(?!markets$)[^/]+$/.test(r.path));
const withMetadata = async () => (await t.db<CoinRow>('coins').whereNotNull('metadata_refreshed_at').orderBy('id').select('id')).map((r) => r.id);

describe('coin metadata', () => {
  it('refreshes a bounded number of coins per run: missing first, in market-cap order', async () => {
    const order = fake.markets('usd').map((i) => i.id);
    await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '3', FETCH_CURRENCIES: 'usd' }));
    expect(detailRequests()).toHaveLength(3);
    expect(await withMetadata()).toEqual(order.slice(0, 3).sort());
    expect(detailRequests()[0]?.query).toEqual({
      localization: 'false',
      tickers: 'false',
      market_data: 'false',
      community_data: 'false',
      developer_data: 'false',
      sparkline: 'false',
    });

    await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '3', FETCH_CURRENCIES: 'usd' }));
    expect(detailRequests()).toHaveLength(6);
    expect(await withMetadata()).toEqual(order.slice(0, 6).sort());
  });

  it('refreshes the oldest metadata once nothing is missing, and nothing fresher than the max age', async () => {
    const ids = fake.coinIds().slice(0, 5);
    await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '250', FETCH_CURRENCIES: 'usd', FETCH_MAX_COINS: '5' }));
    expect(detailRequests()).toHaveLength(5);
    // Make ids[3] the oldest and ids[1] the next oldest; all are older than the 1-hour max age below.
    await t.db<CoinRow>('coins').update({ metadata_refreshed_at: t.db.raw(`now() - interval '2 hours'`) });
    await t
      .db<CoinRow>('coins')
      .where({ id: ids[3] })
      .update({ metadata_refreshed_at: t.db.raw(`now() - interval '5 hours'`) });
    await t
      .db<CoinRow>('coins')
      .where({ id: ids[1] })
      .update({ metadata_refreshed_at: t.db.raw(`now() - interval '4 hours'`) });
    fake.requests.splice(0);
    await runInProcess(
      t,
      fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '2', FETCH_CURRENCIES: 'usd', FETCH_MAX_COINS: '5', FETCH_METADATA_MAX_AGE_HOURS: '1' }),
    );
    expect(detailRequests().map((r) => decodeURIComponent(r.path.split('/').at(-1) ?? ''))).toEqual([ids[3], ids[1]]);

    fake.requests.splice(0);
    await runInProcess(
      t,
      fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '5', FETCH_CURRENCIES: 'usd', FETCH_MAX_COINS: '5', FETCH_METADATA_MAX_AGE_HOURS: '3' }),
    );
    expect(detailRequests()).toHaveLength(0);
  });

  it('stores description, homepage, categories and genesis date as served, for ids with spaces too', async () => {
    await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '250', FETCH_CURRENCIES: 'usd' }));
    const bitcoin = fake.coinDetail('bitcoin');
    const stored = await t.db<CoinRow>('coins').where({ id: 'bitcoin' }).first();
    expect(stored).toMatchObject({
      description: bitcoin?.description.en,
      homepage: bitcoin?.links.homepage.find((h) => h !== ''),
      categories: bitcoin?.categories.filter((c) => c !== null),
      genesis_date: '2009-01-03',
    });
    const spaced = await t.db<CoinRow>('coins').where({ id: '1move token' }).first();
    expect(spaced?.metadata_refreshed_at).not.toBeNull();
    expect(spaced?.description).toBe(fake.coinDetail('1move token')?.description.en);
    // A category list with a null entry (as the real API sometimes sends) keeps the rest.
    const withNull = fake.coinIds().find((id) => fake.coinDetail(id)?.categories.includes(null));
    expect(withNull).toBeDefined();
    const row = await t.db<CoinRow>('coins').where({ id: withNull }).first();
    expect(row?.categories).toEqual(fake.coinDetail(withNull!)?.categories.filter((c) => c !== null));
  });

  it('a coin whose metadata the upstream refuses is skipped and counted; the run still succeeds', async () => {
    fake.setFaults({ serverError: { count: 'always', status: 500 }, pathPrefix: '/coins/bitcoin' });
    const result = await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_METADATA_PER_RUN: '2', FETCH_CURRENCIES: 'usd', FETCH_RETRIES: '1' }));
    expect(result).toMatchObject({ metadataUpdated: 1, metadataSkipped: 1 });
    expect(await withMetadata()).toEqual(['ethereum']);
  });
});

describe('the upstream rate limit', () => {
  it('never makes more than the limit of requests in any window, retries included', async () => {
    // 4 requests per 1-second window stand in for 30 per minute: the same limiter, a shorter clock.
    fake.setFaults({ serverError: { count: 1 } });
    await runInProcess(t, fetcherEnv(t, fake.url, { COINGECKO_RATE_LIMIT_PER_MIN: '4', FETCH_METADATA_PER_RUN: '6' }), 1_000);
    const times = fake.requests.map((r) => r.at);
    // Two market pages per currency (the second, empty, ends the paging), one retry, six metadata requests.
    expect(times).toHaveLength(3 * 2 + 1 + 6);
    for (let i = 0; i + 4 < times.length; i += 1) {
      // The fake stamps arrival, not sending: on a loaded machine one arrival can lag by tens of ms while the
      // next four are on time. A limiter that let a fifth request through would show a gap near 0, not 950.
      expect(times[i + 4]! - times[i]!).toBeGreaterThanOrEqual(950);
    }
  });
});

describe('signals after a successful commit', () => {
  it('NOTIFYs Postgres listeners with the run id', async () => {
    const listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    try {
      const payloads: string[] = [];
      listener.on('notification', (n) => payloads.push(`${n.channel}:${n.payload ?? ''}`));
      await listener.query(`listen ${DATA_CHANGED_CHANNEL}`);
      const { runId } = await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_CURRENCIES: 'usd' }));
      await expect.poll(() => payloads).toEqual([`${DATA_CHANGED_CHANNEL}:${runId}`]);
    } finally {
      await listener.end();
    }
  });

  it.skipIf(!requireTool('redis-server', { provided: inject('redisUrl') !== '' }))(
    'raises the Redis data version to the run id (never lowers it) and publishes it',
    async () => {
      const redisUrl = inject('redisUrl');
      expect(redisUrl, 'Redis is required for this test').not.toBe('');
      const prefix = `test-${Date.now()}:`;
      const redis = new Redis(redisUrl);
      const subscriber = new Redis(redisUrl);
      const published: string[] = [];
      subscriber.on('message', (channel: string, message: string) => published.push(`${channel}=${message}`));
      await subscriber.subscribe(`${prefix}${DATA_VERSION_CHANNEL}`);
      const env = fetcherEnv(t, fake.url, { FETCH_CURRENCIES: 'usd', REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
      try {
        const first = await runInProcess(t, env);
        expect(await redis.get(`${prefix}${DATA_VERSION_KEY}`)).toBe(String(first.runId));
        const second = await runInProcess(t, env);
        expect(second.runId).toBeGreaterThan(first.runId);
        expect(await redis.get(`${prefix}${DATA_VERSION_KEY}`)).toBe(String(second.runId));
        // A version above this run's (a newer run got there first) stays: the key only ever rises.
        await redis.set(`${prefix}${DATA_VERSION_KEY}`, String(second.runId + 100));
        await runInProcess(t, env);
        expect(await redis.get(`${prefix}${DATA_VERSION_KEY}`)).toBe(String(second.runId + 100));
        await expect
          .poll(() => published)
          .toEqual([first.runId, second.runId, second.runId + 100].map((version) => `${prefix}${DATA_VERSION_CHANNEL}=${version}`));
      } finally {
        await redis.del(`${prefix}${DATA_VERSION_KEY}`);
        redis.disconnect();
        subscriber.disconnect();
      }
    },
  );

  it('a Redis outage does not fail a stored run', async () => {
    const result = await runInProcess(t, fetcherEnv(t, fake.url, { FETCH_CURRENCIES: 'usd', REDIS_URL: 'redis://127.0.0.1:1' }));
    expect(result.snapshotsInserted).toBe(250);
  });
});
