import type { FetchRunRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-coingecko';
import { createTestDatabase, startScript, type TestDatabase } from '@cryptoagg/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('start', { migrate: false })]);
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
});

it('`npm start` migrates, runs the fetcher at once, and stops cleanly on SIGTERM', async () => {
  const stack = startScript('packages/stack/src/start.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    FETCH_MAX_COINS: '20',
    FETCH_CURRENCIES: 'usd',
  });
  try {
    await expect
      .poll(async () => (await t.db<FetchRunRow>('fetch_runs').where({ status: 'succeeded' })).length, { timeout: 30_000, interval: 200 })
      .toBe(1);
    expect(stack.output()).toContain('[fetcher] ');
    expect(stack.output()).toContain('fetch run succeeded');
    const latest = await t.db('latest_quotes').count<{ count: number }[]>('* as count');
    expect(Number(latest[0]?.count)).toBe(20);
  } finally {
    const stoppedAt = Date.now();
    stack.child.kill('SIGTERM');
    expect(await stack.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  }
  expect(stack.output()).toContain('stopped');
});
