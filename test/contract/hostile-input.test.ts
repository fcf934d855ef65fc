import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, type GraphQLResponse, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * CONTRACT.md section 7 for client values, through the gateway: a 500 KB value in any argument is
 * answered (or refused) in well under a second with a short message; values PostgreSQL cannot hold
 * are BAD_USER_INPUT or an empty answer, never INTERNAL_SERVER_ERROR, and never fail a concurrent
 * request; the search cache keys what PostgreSQL compares. The database is created as
 * CloudNativePG creates production's (LOCALE 'C'), where ILIKE folds ASCII only.
 */

const SECRET = 'hostile-input-secret-0123456789';
let fake: FakeCoinGecko;
let t: TestDatabase;
let prod: Api;
let dev: Api;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('hostile_input', { locale: 'C' })]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: '20',
    FETCH_METADATA_PER_RUN: '0',
  });
  expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
  [prod, dev] = await Promise.all([startApi({ DATABASE_URL: t.url, NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET }), startApi({ DATABASE_URL: t.url })]);
});
afterAll(async () => {
  await Promise.all([prod?.stop(), dev?.stop()]);
  await Promise.all([fake?.close(), t?.destroy()]);
});

const HISTORY = { id: 'bitcoin', from: '2025-02-01T00:00:00Z', to: '2025-02-10T00:00:00Z' };
const MALFORMED_CURSOR = 'after: malformed cursor; pass the endCursor (or an edge cursor) of a previous page';
const UNSTORABLE_SEARCH = 'search: must not contain NUL characters or unpaired surrogates';
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

// 512 KB repeating the phrase the old suggestion regex backtracked on (27 s for 260 KB).
const HUGE = ' Did you mean x?'.repeat(32_768);
const HUGE_NUMBER = `1${'0'.repeat(500_000)}`;

/** A POST with a raw JSON body (a number too long for a JavaScript literal); the status and body as text. */
async function post(url: string, body: string): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await response.text();
  return { status: response.status, text, ms: performance.now() - started };
}
const request = (operationName: string, variables: Record<string, unknown>) => JSON.stringify({ query: OPERATIONS, operationName, variables });

describe.each([
  ['production', () => prod],
  ['development', () => dev],
])('a 500 KB value in each kind of argument (%s)', (mode, api) => {
  it.each([
    ['String currency', request('Markets', { currency: HUGE })],
    ['String currency of a Coin field', request('CoinDetail', { id: 'bitcoin', currency: HUGE })],
    ['Int first as a string', request('Markets', { first: HUGE })],
    ['Int first as a number', `{"query":${JSON.stringify(OPERATIONS)},"operationName":"SearchCoins","variables":{"first":${HUGE_NUMBER}}}`],
    ['ID id', request('CoinDetail', { id: HUGE })],
    ['ID id of a history', request('CoinHistory', { ...HISTORY, id: HUGE })],
    ['DateTime from', request('CoinHistory', { ...HISTORY, from: HUGE })],
    ['DateTime to', request('CoinHistory', { ...HISTORY, to: HUGE })],
    ['enum interval', request('CoinHistory', { ...HISTORY, interval: HUGE })],
    ['cursor after of markets', request('Markets', { after: HUGE })],
    ['cursor after of a search', request('SearchCoins', { after: HUGE })],
    ['search', request('SearchCoins', { search: HUGE })],
  ])('%s: answered in well under a second, with a short message', async (_kind, body) => {
    const { status, text, ms } = await post(api().url, body);
    expect(ms).toBeLessThan(1_000);
    expect([200, 400]).toContain(status);
    // Before: the value came back in full (twice, in coercion messages), stacks included.
    expect(text.length).toBeLessThan(mode === 'production' ? 2_000 : 20_000);
    const { errors = [] } = JSON.parse(text) as Omit<GraphQLResponse, 'status'>;
    for (const error of errors) {
      expect(error.message.length).toBeLessThanOrEqual(300);
      expect(error.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
    }
    if (mode === 'production') expect(text).not.toMatch(/stacktrace|\n\s+at /);
  });

  it('quotes the value as its first 64 characters and its length', async () => {
    const ours = await gql(api().url, OPERATIONS, { currency: HUGE }, 'Markets');
    expect(ours.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([
      [`currency: unknown currency "${HUGE.slice(0, 64)}…" (524,288 characters); allowed: usd, eur, btc`, 'BAD_USER_INPUT'],
    ]);
    // graphql-js writes this one; the gateway shortens it.
    const theirs = await gql(api().url, OPERATIONS, { first: HUGE }, 'Markets');
    expect(theirs.status).toBe(400);
    expect(theirs.errors?.map((e) => e.message)).toEqual([
      `Variable "$first" got invalid value "${HUGE.slice(0, 64)}…" (524,288 characters); Int cannot represent non-integer value: "${HUGE.slice(0, 64)}…" (524,288 characters)`,
    ]);
  });
});

describe('values the database cannot hold', () => {
  const badInput = async (operation: string, variables: Record<string, unknown>, message: string) => {
    for (const api of [prod, dev]) {
      const res = await gql(api.url, OPERATIONS, variables, operation);
      expect(res.status).toBe(200);
      expect(res.errors?.map((e) => [e.message, e.extensions?.code])).toEqual([[message, 'BAD_USER_INPUT']]);
    }
  };

  it.each([
    ['a NUL', 'bit\u0000coin'],
    ['a lone surrogate', 'bit\ud800coin'],
    ['a trailing high surrogate', 'bitcoin\ud83d'],
    ['201 characters', 'b'.repeat(201)],
  ])('coin(id:) with %s is null, like any unknown id', async (_name, id) => {
    for (const api of [prod, dev]) {
      expect(await gql(api.url, OPERATIONS, { id }, 'CoinDetail')).toEqual({ status: 200, data: { coin: null } });
      expect(await gql(api.url, OPERATIONS, { ...HISTORY, id }, 'CoinHistory')).toEqual({ status: 200, data: { coin: null } });
    }
  });

  it('an id of 200 characters is looked up (and unknown)', async () => {
    expect(await gql(prod.url, OPERATIONS, { id: 'b'.repeat(200) }, 'CoinDetail')).toEqual({ status: 200, data: { coin: null } });
  });

  it.each([
    ['a rank above int4', [2 ** 31, 'bitcoin']],
    ['a rank below int4', [-(2 ** 31) - 1, 'bitcoin']],
    ['a rank of 1e300', [1e300, 'bitcoin']],
    ['a NUL in the id', [1, 'bit\u0000coin']],
    ['a lone surrogate in the id', [1, '\udc00']],
    ['an id of 201 characters', [1, 'b'.repeat(201)]],
  ])('a cursor with %s is a malformed cursor', async (_name, position) => {
    await badInput('Markets', { after: cursorOf(position) }, MALFORMED_CURSOR);
    await badInput('SearchCoins', { after: cursorOf(position) }, MALFORMED_CURSOR);
  });

  it('a cursor at the edge of int4 is a position like any other', async () => {
    type Page = { markets: { edges: { node: { id: string } }[] } };
    const ids = async (position: unknown) => {
      const res = await gql<Page>(prod.url, OPERATIONS, { after: cursorOf(position) }, 'Markets');
      expect(res.errors).toBeUndefined();
      return res.data?.markets.edges.map((edge) => edge.node.id);
    };
    const all = await ids([-(2 ** 31), '']);
    expect(all).toHaveLength(20);
    // Past every ranked coin: only the unranked ones follow.
    const unranked = fake
      .markets('usd')
      .filter((item) => item.market_cap_rank === null)
      .map((item) => item.id);
    expect(await ids([2 ** 31 - 1, ''])).toEqual(all?.filter((id) => unranked.includes(id)));
  });

  it('search with a NUL, a lone surrogate, or over 200 characters is refused, naming search', async () => {
    await badInput('SearchCoins', { search: 'bit\u0000' }, UNSTORABLE_SEARCH);
    await badInput('SearchCoins', { search: '\ud800' }, UNSTORABLE_SEARCH);
    await badInput('SearchCoins', { search: 'k'.repeat(10_000) }, 'search: must be at most 200 characters, got 10,000');
    await badInput('SearchCoins', { search: 'k'.repeat(201) }, 'search: must be at most 200 characters, got 201');
    const atBound = await gql(prod.url, OPERATIONS, { search: 'k'.repeat(200) }, 'SearchCoins');
    expect(atBound.data).toEqual({ coins: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } });
  });

  it('currency and DateTime with a NUL or a lone surrogate are refused, naming the argument', async () => {
    await badInput('Markets', { currency: 'usd\u0000' }, 'currency: unknown currency "usd\u0000"; allowed: usd, eur, btc');
    await badInput('CoinDetail', { id: 'bitcoin', currency: '\ud800' }, 'currency: unknown currency "\ud800"; allowed: usd, eur, btc');
    await badInput(
      'CoinHistory',
      { ...HISTORY, from: '2025-02-01T00:00:00\u0000Z' },
      'from: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "2025-02-01T00:00:00\u0000Z"',
    );
    await badInput(
      'CoinHistory',
      { ...HISTORY, to: '2025-02-10T00:00:00Z\udfff' },
      'to: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "2025-02-10T00:00:00Z\udfff"',
    );
  });

  it('_entities sent straight to each subgraph answers such ids as unknown coins', async () => {
    const bitcoin = fake.markets('usd').find((item) => item.id === 'bitcoin')!;
    const representations = ['bitcoin\u0000', '\ud800', 'b'.repeat(201), 42, 'bitcoin'].map((id) => ({ __typename: 'Coin', id }));
    const coins = await gql(`${dev.service('coins').url}/graphql`, 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Coin { id name } } }', {
      r: representations,
    });
    expect(coins).toEqual({ status: 200, data: { _entities: [null, null, null, null, { id: 'bitcoin', name: 'Bitcoin' }] } });
    const prices = await gql(
      `${dev.service('prices').url}/graphql`,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Coin { id quote { price } history(from: "${bitcoin.last_updated}", to: "${bitcoin.last_updated}") { price } } } }`,
      { r: representations.slice(0, 3).concat(representations.slice(4)) },
    );
    expect(prices).toEqual({
      status: 200,
      data: {
        _entities: [
          { id: 'bitcoin\u0000', quote: null, history: [] },
          { id: '\ud800', quote: null, history: [] },
          { id: 'b'.repeat(201), quote: null, history: [] },
          { id: 'bitcoin', quote: { price: bitcoin.current_price }, history: [{ price: bitcoin.current_price }] },
        ],
      },
    });
  });
});

describe('a hostile request never fails an innocent one sharing its lookups', () => {
  const DETAIL = 'query($a: ID!, $b: ID!) { a: coin(id: $a) { id name quote { price } } b: coin(id: $b) { id name quote { price } } }';

  it('in one loader batch, and in the same cache lookups at the same time', async () => {
    // Answers from a warm API, for comparison.
    const markets = await gql(dev.url, OPERATIONS, { currency: 'usd', first: 20 }, 'Markets');
    const detail = await gql(dev.url, OPERATIONS, { id: 'bitcoin', currency: 'usd' }, 'CoinDetail');
    expect(markets.data).toMatchObject({ markets: { totalCount: 20 } });
    expect(detail.data).toMatchObject({ coin: { id: 'bitcoin', name: 'Bitcoin' } });
    const bitcoin = { id: 'bitcoin', name: 'Bitcoin', quote: { price: fake.markets('usd').find((item) => item.id === 'bitcoin')!.current_price } };

    // A cold one: every lookup below misses its cache and goes to the database together.
    const cold = await startApi({ DATABASE_URL: t.url, RESPONSE_CACHE_TTL_MS: '0' });
    try {
      const answers = await Promise.all([
        gql(cold.url, OPERATIONS, { currency: 'usd', first: 20 }, 'Markets'),
        gql(cold.url, DETAIL, { a: 'bitcoin', b: 'bitcoin\u0000' }),
        gql(cold.url, OPERATIONS, { id: 'bitcoin', currency: 'usd' }, 'CoinDetail'),
        gql(cold.url, DETAIL, { a: '\ud800', b: 'bitcoin' }),
        gql(cold.url, OPERATIONS, { id: 'bitcoin\u0000' }, 'CoinDetail'),
        gql(cold.url, OPERATIONS, { id: 'bitcoin', currency: 'usd' }, 'CoinDetail'),
      ]);
      expect(answers).toEqual([
        markets,
        { status: 200, data: { a: bitcoin, b: null } },
        detail,
        { status: 200, data: { a: null, b: bitcoin } },
        { status: 200, data: { coin: null } },
        detail,
      ]);
    } finally {
      await cold.stop();
    }
  });
});

describe('the search cache keys what PostgreSQL compares', () => {
  type Search = { coins: { totalCount: number; edges: { node: { id: string } }[] } };

  it('runs on a C-locale database, as CloudNativePG creates them', async () => {
    expect(await t.db.raw<{ rows: unknown[] }>('select datcollate, datctype from pg_database where datname = current_database()')).toMatchObject({
      rows: [{ datcollate: 'C', datctype: 'C' }],
    });
  });

  it('a Kelvin sign (K) search does not answer a later plain "k" search', async () => {
    const api = await startApi({ DATABASE_URL: t.url });
    const fresh = await startApi({ DATABASE_URL: t.url });
    try {
      const kelvin = await gql<Search>(api.url, OPERATIONS, { search: '\u212A' }, 'SearchCoins');
      // JavaScript lowercases it to "k"; in the C locale ILIKE matches it with nothing.
      expect(kelvin.data?.coins).toMatchObject({ totalCount: 0, edges: [] });
      const k = await gql<Search>(api.url, OPERATIONS, { search: 'k' }, 'SearchCoins');
      const expected = await gql<Search>(fresh.url, OPERATIONS, { search: 'k' }, 'SearchCoins');
      expect(expected.data?.coins.totalCount).toBeGreaterThan(0);
      const withK = fake.markets('usd').filter((item) => /k/i.test(item.name) || /k/i.test(item.symbol));
      expect(expected.data?.coins.edges.map((e) => e.node.id).sort()).toEqual(withK.map((item) => item.id).sort());
      expect(k).toEqual(expected);
    } finally {
      await Promise.all([api.stop(), fresh.stop()]);
    }
  });
});
