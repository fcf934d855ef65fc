import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import fc from 'fast-check';
import { type Api, createTestDatabase, gql, type GraphQLResponse, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

/*
 * Hostile argument values (full Unicode, NUL, unpaired surrogates, numbers past int4 and
 * doubles, long strings, cursors wrapping all of these) in the variables of every contract
 * operation, and in references sent straight to the subgraphs. Never a 5xx, never
 * INTERNAL_SERVER_ERROR (what a PostgreSQL refusal becomes), never a stack trace in production,
 * answered in well under a second, and an innocent request sent at the same moment gets its
 * exact answer. fuzz.test.ts mutates the documents; this file keeps them and fuzzes the values.
 */

const SECRET = 'fuzz-values-secret-0123456789';
let fake: FakeCoinGecko;
let t: TestDatabase;
let prod: Api;
let dev: Api;

beforeAll(async () => {
  // The C locale, as production's CloudNativePG databases.
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('fuzz_values', { locale: 'C' })]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: '20',
  });
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
  [prod, dev] = await Promise.all([startApi({ DATABASE_URL: t.url, NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET }), startApi({ DATABASE_URL: t.url })]);
});
afterAll(async () => {
  await Promise.all([prod?.stop(), dev?.stop()]);
  await Promise.all([fake?.close(), t?.destroy()]);
});

const UNSTORABLE = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d'];

/** Text of every kind: any code point, with NUL and unpaired surrogates spliced in, or long. */
const text: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc
    .tuple(fc.constantFrom('bitcoin', 'usd', 'btc', 'k', '\u212A', '2025-02-09T12:00:00Z', ''), fc.constantFrom(...UNSTORABLE), fc.nat(20))
    .map(([word, bad, at]) => word.slice(0, at) + bad + word.slice(at)),
  fc
    .tuple(fc.constantFrom('x', 'é', '😀', ' Did you mean x?', '\u0000', '"\\'), fc.constantFrom(65, 199, 200, 201, 10_000, 40_000))
    .map(([unit, length]) => unit.repeat(length)),
);

const number = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -1, 250, 251, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 1e300, -1e300, 0.5),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Cursors of our shape holding hostile positions, and base64url of anything. */
const cursor = fc
  .oneof(
    fc.tuple(fc.oneof(number, fc.constant(null)), fc.oneof(text, fc.constantFrom('bitcoin', ''))).map((position) => JSON.stringify(position)),
    fc.json({ maxDepth: 2 }),
    text,
  )
  .map((json) => Buffer.from(json).toString('base64url'));

const dateTime = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999999999+14:00',
    '2025-02-30T25:61:00Z',
    '2025-02-09T12:00:00-00:00',
    '1969-12-31T23:59:59.999Z',
  ),
  text,
);

const anything: fc.Arbitrary<unknown> = fc.oneof(
  text,
  number,
  fc.constant(null),
  fc.boolean(),
  fc.array(text, { maxLength: 3 }),
  fc.dictionary(text, text, { maxKeys: 2 }),
);

/** A hostile value for each variable, of its own kind mostly, of any kind sometimes. */
const hostile: Record<string, fc.Arbitrary<unknown>> = {
  id: fc.oneof({ weight: 4, arbitrary: text }, anything),
  currency: fc.oneof({ weight: 4, arbitrary: text }, anything),
  search: fc.oneof({ weight: 4, arbitrary: text }, anything),
  after: fc.oneof({ weight: 4, arbitrary: cursor }, anything),
  first: fc.oneof({ weight: 4, arbitrary: number }, anything),
  from: fc.oneof({ weight: 4, arbitrary: dateTime }, anything),
  to: fc.oneof({ weight: 4, arbitrary: dateTime }, anything),
  interval: fc.oneof({ weight: 2, arbitrary: fc.constantFrom('RAW', 'HOUR', 'DAY') }, text, anything),
};

const VALID: Record<string, Record<string, unknown>> = {
  Markets: { currency: 'usd', first: 5 },
  CoinDetail: { id: 'bitcoin', currency: 'usd' },
  CoinHistory: { id: 'bitcoin', from: '2025-02-01T00:00:00Z', to: '2025-02-10T00:00:00Z', interval: 'HOUR' },
  SearchCoins: { search: 'bit', first: 5 },
  FetchStatus: {},
};

/** A contract operation with valid variables, one to three of them (or others it declares) replaced by hostile values. */
const request = fc
  .tuple(fc.constantFrom(...Object.keys(VALID)), fc.uniqueArray(fc.constantFrom(...Object.keys(hostile)), { minLength: 1, maxLength: 3 }))
  .chain(([operation, names]) =>
    fc.record(Object.fromEntries(names.map((name) => [name, hostile[name]!]))).map((values) => ({
      operation,
      variables: { ...VALID[operation], ...values },
    })),
  );

const INNOCENT = [
  ['CoinDetail', { id: 'bitcoin', currency: 'usd' }],
  ['Markets', { currency: 'usd', first: 20 }],
  ['SearchCoins', { search: 'k' }],
] as const;

async function send(url: string, body: unknown): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, text, ms: performance.now() - started };
}

function expectHandled({ status, text, ms }: { status: number; text: string; ms: number }, production: boolean): void {
  expect(status, text.slice(0, 2_000)).toBeLessThan(500);
  expect(ms, text.slice(0, 2_000)).toBeLessThan(1_000);
  const body = JSON.parse(text) as Omit<GraphQLResponse, 'status'>;
  for (const error of body.errors ?? []) {
    expect(error.extensions?.code, error.message).not.toBe('INTERNAL_SERVER_ERROR');
    expect(error.message.length, error.message.slice(0, 300)).toBeLessThanOrEqual(1_100);
  }
  expect(text).not.toMatch(/Internal server error/);
  if (production) expect(text).not.toMatch(/stacktrace|\n\s+at /);
}

it('hostile values in every contract operation: handled, fast, and others still served exactly', async () => {
  const expected = await Promise.all(INNOCENT.map(([name, variables]) => gql(prod.url, OPERATIONS, variables, name)));
  for (const answer of expected) expect(answer.errors).toBeUndefined();
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(request, fc.boolean(), fc.nat(INNOCENT.length - 1), async ({ operation, variables }, production, innocent) => {
      runs++;
      const api = production ? prod : dev;
      const [name, innocentVariables] = INNOCENT[innocent]!;
      const [hostileAnswer, innocentAnswer] = await Promise.all([
        send(api.url, { query: OPERATIONS, operationName: operation, variables }),
        gql(api.url, OPERATIONS, innocentVariables, name),
      ]);
      expectHandled(hostileAnswer, production);
      expect(innocentAnswer).toEqual(expected[innocent]);
    }),
    { numRuns: 400, interruptAfterTimeLimit: 15_000, markInterruptAsFailure: false, seed: 20261203, endOnFailure: true },
  );
  expect(runs).toBeGreaterThan(50);
  for (const [i, [name, variables]] of INNOCENT.entries()) expect(await gql(prod.url, OPERATIONS, variables, name)).toEqual(expected[i]);
});

it('hostile ids in references sent straight to the subgraphs are unknown coins', async () => {
  const bitcoin = fake.markets('usd').find((item) => item.id === 'bitcoin')!;
  const COINS = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Coin { id name } } }';
  const PRICES = `query($r: [_Any!]!, $c: String) { _entities(representations: $r) { ... on Coin { id quote(currency: $c) { price }
    history(currency: $c, from: "${bitcoin.last_updated}", to: "${bitcoin.last_updated}") { price } } } }`;
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(hostile.id!, { minLength: 1, maxLength: 4 }), async (ids) => {
      runs++;
      const representations = [...ids, 'bitcoin'].map((id) => ({ __typename: 'Coin', id }));
      const [coins, prices] = await Promise.all([
        send(`${dev.service('coins').url}/graphql`, { query: COINS, variables: { r: representations } }),
        send(`${dev.service('prices').url}/graphql`, { query: PRICES, variables: { r: representations, c: 'usd' } }),
      ]);
      expectHandled(coins, false);
      expectHandled(prices, false);
      // bitcoin, sharing the batch with them, is answered as ever.
      expect((JSON.parse(coins.text) as { data: { _entities: unknown[] } }).data._entities.at(-1)).toEqual({ id: 'bitcoin', name: 'Bitcoin' });
      expect((JSON.parse(prices.text) as { data: { _entities: unknown[] } }).data._entities.at(-1)).toEqual({
        id: 'bitcoin',
        quote: { price: bitcoin.current_price },
        history: [{ price: bitcoin.current_price }],
      });
    }),
    { numRuns: 200, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: false, seed: 20261203, endOnFailure: true },
  );
  expect(runs).toBeGreaterThan(20);
});
