import { readdirSync, readFileSync } from 'node:fs';
import type { FetchRunRow, Knex } from '@cryptoagg/db';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, freePort, gql, OPERATIONS, startScript, type TestDatabase } from '@cryptoagg/testkit';
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

/** Every process below `root` (children, grandchildren, ...), from /proc: the supervisor's services run in process groups of their own. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('Ctrl-C under load, as a terminal sends it (SIGTERM to the whole process group): every request in flight gets its answer, every process exits within 15 s', async () => {
  const [gatewayPort, coinsPort, pricesPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const stack = startScript(
    'tools/stack/src/start.ts',
    {
      DATABASE_URL: t.url,
      COINGECKO_BASE_URL: fake.url,
      FETCH_MAX_COINS: '20',
      FETCH_CURRENCIES: 'usd',
      // No scheduled run in the middle of the test: only the one at start-up.
      FETCH_SCHEDULE: '0 0 1 1 *',
      GATEWAY_PORT: String(gatewayPort),
      COINS_PORT: String(coinsPort),
      PRICES_PORT: String(pricesPort),
    },
    { processGroup: true },
  );
  const group = stack.child.pid!;
  const url = `http://127.0.0.1:${gatewayPort}/graphql`;
  const coins = fake.markets('usd').slice(0, 20);
  let lock: Knex.Transaction | undefined;
  try {
    await expect.poll(() => stack.output(), { timeout: 30_000, interval: 200 }).toContain('first fetch done');
    await expect.poll(() => markets(gatewayPort), { timeout: 30_000, interval: 250 }).toMatchObject({ data: { markets: { totalCount: 20 } } });
    const processes = [group, ...descendants(group)];
    // supervisor, coins, prices, gateway (the fetcher has exited)
    expect(processes.length).toBeGreaterThanOrEqual(4);

    // Hold the requests in flight: the coins subgraph waits for this lock before it answers any of them.
    lock = await t.db.transaction();
    await lock.raw('lock table coins in access exclusive mode');
    const answers = coins.map((coin) => {
      const at = Date.parse(coin.last_updated);
      const variables = { id: coin.id, from: new Date(at - 60_000).toISOString(), to: new Date(at + 60_000).toISOString(), interval: 'RAW' };
      return gql<{ coin: { id: string; history: { time: string; price: number }[] } }>(url, OPERATIONS, variables, 'CoinHistory').catch((error: unknown) => ({
        status: 0,
        error: String(error instanceof Error ? (error.cause ?? error) : error),
      }));
    });
    const waiting = () =>
      t.db.raw<{ rows: { count: string }[] }>(`select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
    await expect.poll(async () => Number((await waiting()).rows[0]?.count), { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const signalledAt = Date.now();
    process.kill(-group, 'SIGTERM');
    // The gateway is draining (it took the supervisor's SIGTERM) while every request still waits for the database.
    await expect.poll(() => stack.output(), { timeout: 5_000, interval: 50 }).toMatch(/\[gateway\] .*stopping/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await lock.commit();
    lock = undefined;

    const results = await Promise.all(answers);
    expect(results).toEqual(
      coins.map((coin) => ({
        status: 200,
        data: { coin: { id: coin.id, history: [expect.objectContaining({ time: new Date(coin.last_updated).toISOString(), price: coin.current_price })] } },
      })),
    );
    expect(await stack.exited).toBe(0);
    await expect.poll(() => processes.filter(alive), { timeout: 15_000 - (Date.now() - signalledAt), interval: 100 }).toEqual([]);
    expect(Date.now() - signalledAt).toBeLessThan(15_000);
    // In order: the gateway first (its requests drained), then the subgraphs it was calling.
    const output = stack.output();
    expect(output.indexOf('gateway stopped')).toBeGreaterThan(0);
    expect(output.indexOf('gateway stopped')).toBeLessThan(output.indexOf('coins, prices stopped'));
  } finally {
    await lock?.rollback();
    if (alive(group)) process.kill(-group, 'SIGKILL');
  }
});
