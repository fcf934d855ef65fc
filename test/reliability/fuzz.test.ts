import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import fc from 'fast-check';
import { type Api, createTestDatabase, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('fuzz')]);
  expect(
    (
      await runScript('jobs/fetcher/src/main.ts', {
        DATABASE_URL: t.url,
        COINGECKO_BASE_URL: fake.url,
        COINGECKO_RATE_LIMIT_PER_MIN: '10000',
        FETCH_MAX_COINS: '20',
      })
    ).code,
  ).toBe(0);
  api = await startApi({ DATABASE_URL: t.url, NODE_ENV: 'production', SUBGRAPH_SECRET: 'fuzz-test-secret-0123456789' });
});
afterAll(async () => {
  await api.stop();
  await Promise.all([fake.close(), t.destroy()]);
});

const OPERATION_NAMES = ['Markets', 'CoinDetail', 'CoinHistory', 'SearchCoins', 'FetchStatus'];
const VARIABLES = ['currency', 'first', 'after', 'id', 'from', 'to', 'interval', 'search'];

/** Values of every shape a client can send, weighted towards the ones that matter here. */
const value = fc.oneof(
  fc.constantFrom('usd', 'EUR', 'btc', 'gbp', '', ' ', 'bitcoin', '1move token', 'RAW', 'HOUR', 'DAY', 'WEEK', null),
  fc.integer({ min: -1_000, max: 100_000 }),
  fc.double(),
  fc.boolean(),
  fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.string({ maxLength: 40 }),
  fc.json().map((j) => Buffer.from(j).toString('base64url')),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const TOKENS = [
  '{',
  '}',
  '(',
  ')',
  ':',
  '$first',
  '$id',
  '@skip(if: true)',
  '...',
  '"x"',
  '123',
  'first: 250',
  '__typename',
  'history',
  'quote',
  'edges',
  'node',
];

/** The contract document, mutated: a slice removed, a token inserted, or a slice repeated. */
const document = fc.oneof(
  { weight: 3, arbitrary: fc.constant(OPERATIONS) },
  fc.tuple(fc.nat(OPERATIONS.length), fc.nat(40)).map(([at, length]) => OPERATIONS.slice(0, at) + OPERATIONS.slice(at + length)),
  fc.tuple(fc.nat(OPERATIONS.length), fc.constantFrom(...TOKENS)).map(([at, token]) => `${OPERATIONS.slice(0, at)} ${token} ${OPERATIONS.slice(at)}`),
  fc.tuple(fc.nat(OPERATIONS.length), fc.nat(60)).map(([at, length]) => OPERATIONS.slice(0, at + length) + OPERATIONS.slice(at)),
);

const request = fc.record({
  query: document,
  operationName: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...OPERATION_NAMES) }, fc.constant(undefined), fc.string({ maxLength: 10 })),
  variables: fc.dictionary(fc.constantFrom(...VARIABLES), value, { maxKeys: 6 }),
});

it('mutated contract operations and random variables never get a 5xx, a crash or a stack trace', async () => {
  await fc.assert(
    fc.asyncProperty(request, async (body) => {
      const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.text();
      expect(response.status, text).toBeLessThan(500);
      expect(() => JSON.parse(text) as unknown, text).not.toThrow();
      expect(text).not.toMatch(/stacktrace|\n\s+at |INTERNAL_SERVER_ERROR|Internal server error/);
    }),
    { numRuns: 1000, seed: 20261126, endOnFailure: true },
  );
  // Still serving.
  const after = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: OPERATIONS, operationName: 'CoinDetail', variables: { id: 'bitcoin' } }),
  });
  expect(await after.json()).toMatchObject({ data: { coin: { id: 'bitcoin', name: 'Bitcoin' } } });
});
