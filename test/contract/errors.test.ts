import { SUBGRAPH_SECRET_HEADER } from '@cryptoagg/core';
import { startFakeCoinGecko, type FakeCoinGecko } from '@cryptoagg/fake-upstream';
import { type Api, createTestDatabase, gql, OPERATIONS, runScript, startApi, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let fake: FakeCoinGecko;
let t: TestDatabase;
let api: Api;

beforeAll(async () => {
  [fake, t] = await Promise.all([startFakeCoinGecko({ coins: 20 }), createTestDatabase('contract_errors')]);
  const fetched = await runScript('jobs/fetcher/src/main.ts', {
    DATABASE_URL: t.url,
    COINGECKO_BASE_URL: fake.url,
    COINGECKO_RATE_LIMIT_PER_MIN: '10000',
    FETCH_MAX_COINS: '20',
    FETCH_METADATA_PER_RUN: '0',
  });
  expect(fetched.code).toBe(0);
  api = await startApi({ DATABASE_URL: t.url });
});
afterAll(async () => {
  await api.stop();
  await Promise.all([fake.close(), t.destroy()]);
});

const HISTORY = { id: 'bitcoin', from: '2025-02-01T00:00:00Z', to: '2025-02-10T00:00:00Z' };

async function expectBadInput(operation: string, variables: Record<string, unknown>, message: string) {
  const res = await gql(api.url, OPERATIONS, variables, operation);
  expect(res.status).toBe(200);
  expect(res.errors).toHaveLength(1);
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(res.errors?.[0]?.message).toBe(message);
  expect(JSON.stringify(res)).not.toMatch(/\n\s+at /);
}

describe('bad input gets BAD_USER_INPUT naming the argument and what is allowed', () => {
  it.each([
    ['Markets', { currency: 'gbp' }, 'currency: unknown currency "gbp"; allowed: usd, eur, btc'],
    ['CoinDetail', { id: 'bitcoin', currency: 'XYZ' }, 'currency: unknown currency "XYZ"; allowed: usd, eur, btc'],
    ['CoinHistory', { ...HISTORY, currency: 'jpy' }, 'currency: unknown currency "jpy"; allowed: usd, eur, btc'],
    ['Markets', { first: 0 }, 'first: must be between 1 and 250, got 0'],
    ['Markets', { first: 251 }, 'first: must be between 1 and 250, got 251'],
    ['SearchCoins', { first: -5 }, 'first: must be between 1 and 250, got -5'],
    ['Markets', { after: 'not-a-cursor' }, 'after: malformed cursor; pass the endCursor (or an edge cursor) of a previous page'],
    [
      'SearchCoins',
      { after: Buffer.from('{"a":1}').toString('base64url') },
      'after: malformed cursor; pass the endCursor (or an edge cursor) of a previous page',
    ],
    [
      'CoinHistory',
      { ...HISTORY, from: '2025-02-10T00:00:00Z', to: '2025-02-01T00:00:00Z' },
      'from: must not be after to (from 2025-02-10T00:00:00.000Z, to 2025-02-01T00:00:00.000Z)',
    ],
    ['CoinHistory', { ...HISTORY, from: 'yesterday' }, 'from: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "yesterday"'],
    [
      'CoinHistory',
      { ...HISTORY, to: '2025-02-10T00:00:00' },
      'to: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "2025-02-10T00:00:00"',
    ],
  ])('%s %j', async (operation, variables, message) => {
    await expectBadInput(operation, variables, message);
  });

  it('accepts a DateTime with any offset and answers in UTC', async () => {
    const res = await gql<{ coin: { history: { time: string }[] } }>(
      api.url,
      OPERATIONS,
      { id: 'bitcoin', currency: 'usd', from: '2025-02-09T18:00:00+01:00', to: '2025-02-09T19:00:00+01:00' },
      'CoinHistory',
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.coin.history.map((p) => p.time)).toEqual([fake.markets('usd').find((i) => i.id === 'bitcoin')?.last_updated]);
  });

  it('a literal bad DateTime gets the same answer as a variable', async () => {
    const res = await gql(api.url, '{ coin(id: "bitcoin") { history(from: "soon", to: "2025-02-10T00:00:00Z") { time } } }');
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toBe('from: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "soon"');
  });
});

describe('operations refused before execution', () => {
  const refused = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await gql(api.url, query, variables);
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    return res.errors?.[0]?.message ?? '';
  };
  const nested = (levels: number) => `{ __type(name: "Coin") { fields { type { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } } }`;

  it('refuses a query deeper than 10 levels, and answers one of 10', async () => {
    expect((await gql(api.url, nested(6))).errors).toBeUndefined(); // 10 levels
    expect(await refused(nested(7))).toMatch(/depth/i); // 11 levels
  });

  it('refuses more than 100 aliases, and answers 100', async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: coin(id: "bitcoin") { id }`).join(' ')} }`;
    expect((await gql(api.url, aliases(100))).errors).toBeUndefined();
    expect(await refused(aliases(101))).toMatch(/alias/i);
  });

  it('refuses an answer that could exceed 100,000 items, counting lists at their first and a history at 10,000', async () => {
    const history = 'history(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z") { time }';
    expect((await gql(api.url, `{ ${Array.from({ length: 10 }, (_, i) => `h${i}: coin(id: "bitcoin") { ${history} }`).join(' ')} }`)).errors).toBeUndefined();
    expect(await refused(`{ ${Array.from({ length: 11 }, (_, i) => `h${i}: coin(id: "bitcoin") { ${history} }`).join(' ')} }`)).toBe(
      'query too large: it could return 110,000 items, the limit is 100,000 (each list counts at its first, every other list at its declared maximum size); ask for smaller pages',
    );
    expect(await refused(`query($n: Int) { markets(first: $n) { edges { node { ${history} } } } }`, { n: 11 })).toMatch(/110,011 items/);
    expect(await refused(`{ markets { edges { node { ${history} } } } }`)).toMatch(/1,000,100 items/);
  });
});

describe('HTTP-level errors', () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('a batched request (JSON array) is 400', async () => {
    const res = await post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('BAD_REQUEST');
  });

  it('malformed JSON is 400, without a stack trace', async () => {
    const res = await post('{"query": "{ __typename }"');
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
    expect(text).not.toMatch(/\n\s+at |node_modules/);
  });

  it('several operations without an operationName is 400, naming the problem', async () => {
    const res = await post(JSON.stringify({ query: OPERATIONS }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errors: [{ message: 'Must provide operation name if query contains multiple operations.' }] });
  });

  it('a body over 1 MB is 413', async () => {
    const res = await post(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } }));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });

  it('refuses simple (CSRF-able) requests: a GET without a preflight header, a text/plain POST', async () => {
    const url = new URL(api.url);
    url.searchParams.set('query', '{ __typename }');
    const get = await fetch(url);
    expect(get.status).toBe(400);
    expect(await get.text()).toMatch(/CSRF/i);
    const plain = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(plain.status).toBe(400);
  });

  it('answers GET queries (with the CSRF preflight header) and at /', async () => {
    const url = new URL(api.url);
    url.searchParams.set('query', '{ coin(id: "bitcoin") { name } }');
    const get = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(await get.json()).toEqual({ data: { coin: { name: 'Bitcoin' } } });
    const root = await fetch(new URL('/', api.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ coin(id: "bitcoin") { symbol } }' }),
    });
    expect(await root.json()).toEqual({ data: { coin: { symbol: 'btc' } } });
  });
});

describe('NODE_ENV=production', () => {
  const SECRET = 'test-subgraph-secret-0123456789';
  let prod: Api;
  beforeAll(async () => {
    prod = await startApi({ DATABASE_URL: t.url, NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET });
  });
  afterAll(() => prod.stop());

  it('turns introspection off, and hides field suggestions and stack traces', async () => {
    const introspection = await gql(prod.url, '{ __schema { queryType { name } } }');
    expect(introspection.errors?.[0]?.message).toMatch(/introspection/i);
    const typo = await gql(prod.url, '{ markets { totalCont } }');
    expect(typo.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(typo.errors?.[0]?.message).not.toMatch(/did you mean/i);
    const bad = await gql(prod.url, OPERATIONS, { first: 999 }, 'Markets');
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify([introspection, typo, bad])).not.toMatch(/stacktrace|\n\s+at /);
  });

  it('subgraphs refuse requests without the gateway secret; the gateway sends it', async () => {
    for (const subgraph of [prod.service('coins'), prod.service('prices')]) {
      const direct = await fetch(`${subgraph.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(direct.status).toBe(401);
      const withSecret = await fetch(`${subgraph.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SUBGRAPH_SECRET_HEADER]: SECRET },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(withSecret.status).toBe(200);
    }
    const through = await gql(prod.url, OPERATIONS, { id: 'bitcoin', currency: 'usd' }, 'CoinDetail');
    expect(through.errors).toBeUndefined();
    expect(through.data).toMatchObject({ coin: { id: 'bitcoin', name: 'Bitcoin' } });
  });
});
