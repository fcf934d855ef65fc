import type { FetchRunRow } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, startScript, type TestDatabase } from '@cryptoagg/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetcherEnv, runInProcess } from './helpers.js';

// The fetcher's advisory lock key (store.ts): the test holds it as a running fetcher would.
const RUN_LOCK_KEY = 8_315_204_417;

let fake: FakeCoinGecko;
let t: TestDatabase;
let holder: pg.Client;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('fetcher_lock')]);
  holder = new pg.Client({ connectionString: t.url, application_name: 'test-lock-holder' });
  await holder.connect();
});
afterAll(async () => {
  await holder.end();
  await Promise.all([fake.close(), t.destroy()]);
});
beforeEach(async () => {
  fake.reset();
  await t.db.raw('truncate fetch_runs restart identity');
});

const hold = () => holder.query('select pg_advisory_lock($1)', [RUN_LOCK_KEY]);
const release = () => holder.query('select pg_advisory_unlock($1)', [RUN_LOCK_KEY]);

/** Backends of fetchers waiting for the run lock right now. */
async function waiters(): Promise<number> {
  const { rows } = await holder.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
      where datname = current_database() and application_name = 'cryptoagg-fetcher-lock' and wait_event_type = 'Lock'`,
  );
  return rows[0]?.n ?? 0;
}

/** Fetcher lock connections of any state (waiting, holding, idle). */
async function lockConnections(): Promise<number> {
  const { rows } = await holder.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'cryptoagg-fetcher-lock'`,
  );
  return rows[0]?.n ?? 0;
}

describe('the run lock', () => {
  it('starts the deadline once the lock is held: a run that waited longer than its deadline still gets all of it', async () => {
    await hold();
    // Each market request takes 200 ms: the run needs ~0.6 s of its 2-second deadline after a 2.5-second wait.
    fake.setFaults({ delayMs: 200 });
    const run = runInProcess(t, fetcherEnv(t, fake.url, { FETCH_DEADLINE_SECONDS: '2', FETCH_LOCK_WAIT_SECONDS: '30' }));
    await expect.poll(waiters).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const releasedAt = Date.now();
    await release();

    const result = await run;
    expect(result.snapshotsInserted).toBe(20 * 3);
    expect(result.durationMs).toBeGreaterThanOrEqual(600);
    const [row] = await t.db<FetchRunRow>('fetch_runs').select('status', 'started_at');
    expect(row?.status).toBe('succeeded');
    expect(row!.started_at.getTime()).toBeGreaterThanOrEqual(releasedAt - 50);
  });

  it('bounds the wait for the lock on its own and says so', async () => {
    await hold();
    try {
      const started = Date.now();
      await expect(runInProcess(t, fetcherEnv(t, fake.url, { FETCH_LOCK_WAIT_SECONDS: '1', FETCH_DEADLINE_SECONDS: '60' }))).rejects.toThrow(
        'another fetcher run held the run lock for more than 1s',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      // Nothing was started: no run recorded, no upstream request, no connection left behind.
      expect(await t.db('fetch_runs').count<{ count: number }[]>('* as count')).toEqual([{ count: 0 }]);
      expect(fake.requests).toEqual([]);
      await expect.poll(lockConnections).toBe(0);
    } finally {
      await release();
    }
  });

  it('SIGTERM while `npm run fetch` waits for the lock ends the wait at once: exit 1, no waiter left in PostgreSQL', async () => {
    await hold();
    try {
      const fetcher = startScript('jobs/fetcher/src/main.ts', { ...fetcherEnv(t, fake.url), MIGRATE_ON_START: 'false', LOG_LEVEL: 'info' });
      await expect.poll(waiters, { timeout: 20_000 }).toBe(1);
      const signalled = Date.now();
      fetcher.child.kill('SIGTERM');
      const code = await fetcher.exited;
      expect(Date.now() - signalled).toBeLessThan(2_000);
      expect(code).toBe(1);
      const failed = fetcher
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg?: string; error?: string })
        .find((log) => log.msg === 'fetch run failed');
      expect(failed?.error).toBe('aborted while waiting for the run lock: received SIGTERM');
      // The waiting backend was terminated, not left queued to grab the lock after the holder releases it.
      expect(await lockConnections()).toBe(0);
      expect(fake.requests).toEqual([]);
    } finally {
      await release();
    }
  });
});
