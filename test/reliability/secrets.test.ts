import { randomBytes } from 'node:crypto';
import { SUBGRAPH_SECRET_HEADER } from '@cryptoagg/core';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { createTestDatabase, freePort, runScript, startServices, type TestDatabase } from '@cryptoagg/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;
const DB_PASSWORD = secret('dbpw');
const SUBGRAPH_SECRET = secret('subgraph');
const API_KEY = secret('cgkey');
const ROLE = `secret_tester_${randomBytes(3).toString('hex')}`;

let fake: FakeCoinGecko;
let t: TestDatabase;
let url: string;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 10, apiKey: API_KEY }), createTestDatabase('secrets')]);
  // A role with a password of our own, so the connection string really carries a secret.
  await t.db.raw(`create role ${ROLE} login superuser password '${DB_PASSWORD}'`);
  const withPassword = new URL(t.url);
  withPassword.username = ROLE;
  withPassword.password = DB_PASSWORD;
  url = withPassword.toString();
});
afterAll(async () => {
  await Promise.all([fake.close(), t.destroy()]);
  // Roles are server-wide: drop it once its database (where it owns partitions) is gone.
  const admin = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await admin.connect();
  await admin.query(`drop role if exists ${ROLE}`);
  await admin.end();
});

it('no secret or connection string reaches the logs, on the happy path or on errors, at debug level', async () => {
  const outputs: string[] = [];
  const base = { DATABASE_URL: url, LOG_LEVEL: 'debug', COINGECKO_BASE_URL: fake.url, COINGECKO_RATE_LIMIT_PER_MIN: '10000', FETCH_MAX_COINS: '10' };

  const ok = await runScript('jobs/fetcher/src/main.ts', { ...base, COINGECKO_API_KEY: API_KEY });
  expect(ok.code).toBe(0);
  const wrongKey = await runScript('jobs/fetcher/src/main.ts', { ...base, COINGECKO_API_KEY: `${API_KEY}-wrong`, FETCH_RETRIES: '0' });
  expect(wrongKey.code).toBe(1);
  const noDatabase = await runScript('jobs/fetcher/src/main.ts', {
    ...base,
    DATABASE_URL: `postgres://${ROLE}:${DB_PASSWORD}@127.0.0.1:${await freePort()}/none`,
  });
  expect(noDatabase.code).toBe(1);
  outputs.push(...[ok, wrongKey, noDatabase].map((r) => r.stdout + r.stderr));

  // The subgraphs and the gateway as processes, in production mode, with this file's secret.
  const services = await startServices({ databaseUrl: url, env: { LOG_LEVEL: 'debug', SUBGRAPH_SECRET } });
  const processes = Object.values(services.processes);
  try {
    const ask = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${services.url('gateway')}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query }),
      })
        .then((r) => r.json())
        .catch(() => undefined);
    await expect
      .poll(() => ask('{ coin(id: "bitcoin") { name quote { price } } }'), { timeout: 20_000, interval: 200 })
      .toMatchObject({ data: { coin: { name: 'Bitcoin' } } });
    await ask('{ markets(first: 999) { totalCount } }', { authorization: `Bearer ${SUBGRAPH_SECRET}` });
    // A direct subgraph request with a wrong secret, and one with the right one.
    await fetch(`${services.url('coins')}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: 'nope' },
      body: '{}',
    });
    await fetch(`${services.url('coins')}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: SUBGRAPH_SECRET },
      body: '{"query":"{ __typename }"}',
    });
  } finally {
    await services.stop();
  }
  outputs.push(...processes.map((p) => p.output()));

  const logs = outputs.join('\n');
  expect(logs.length).toBeGreaterThan(1_000);
  expect(logs).toContain('fetch run succeeded');
  expect(logs).toContain('fetch run failed');
  for (const value of [DB_PASSWORD, SUBGRAPH_SECRET, API_KEY, url]) expect(logs).not.toContain(value);
});
