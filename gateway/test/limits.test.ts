/**
 * The gateway's document limits over HTTP, on the whole API (both subgraphs on a database of
 * their own): tokens, directives, introspection depth and worst-case size are refused with 400
 * GRAPHQL_VALIDATION_FAILED in well under a second, while the contract operations still run.
 */
import { readContractOperations } from '@cryptoagg/core';
import { createTestDatabase, gql, startApi, type Api, type GraphQLResponse, type TestDatabase } from '@cryptoagg/testkit';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DEPTH, MAX_DIRECTIVES, MAX_INTROSPECTION_DEPTH, MAX_TOKENS } from '../src/limits.js';

let t: TestDatabase;
let api: Api;

beforeAll(async () => {
  t = await createTestDatabase('gateway_limits');
  api = await startApi({ DATABASE_URL: t.url });
});
afterAll(async () => {
  await api?.stop();
  await t?.destroy();
});

/** A request and how long its answer took. */
async function timed(query: string, variables: Record<string, unknown> = {}, operationName?: string): Promise<GraphQLResponse & { ms: number }> {
  const started = performance.now();
  const res = await gql(api.url, query, variables, operationName);
  return { ...res, ms: performance.now() - started };
}

function expectRefused(res: GraphQLResponse, message: string): void {
  expect(res.status).toBe(400);
  expect(res.data).toBeUndefined();
  expect(res.errors).toEqual([{ message, extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) as unknown }]);
}

const HISTORY = 'history(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z") { time }';
/** Fragments that spread the next one twice, 30 levels: 2^30 spreads in 1.3 KB. */
const doublingFragments = (leaf: string) =>
  `${Array.from({ length: 30 }, (_, i) => `fragment F${i} on Coin { id ...F${i + 1} ...F${i + 1} }`).join('\n')}\nfragment F30 on Coin { ${leaf} }`;

describe('hostile documents are refused, or answered, in well under a second', () => {
  it('refuses fragments that spread each other twice, 30 levels, counting 2^30 category lists', async () => {
    const res = await timed(`{ markets { edges { node { ...F0 } } } }\n${doublingFragments('categories')}`);
    expectRefused(
      res,
      'query too large: it could return 107,374,182,500 items, the limit is 100,000 (each list counts at its first, every other list at its declared maximum size); ask for smaller pages',
    );
    expect(res.ms).toBeLessThan(1_000);
  });

  it('answers the same fragments where they hold no list, and serves another client meanwhile', async () => {
    const [hostile, innocent] = await Promise.all([
      timed(`{ coin(id: "bitcoin") { ...F0 } }\n${doublingFragments('name')}`),
      timed('{ fetchStatus { coinsUpdated } }'),
    ]);
    expect(hostile).toMatchObject({ status: 200, data: { coin: null } });
    expect(hostile.ms).toBeLessThan(1_000);
    expect(innocent).toMatchObject({ status: 200, data: { fetchStatus: { coinsUpdated: 0 } } });
  });

  it('counts markets(first: $n) with $n: Int = 0 and n = null at the 100 the resolver runs', async () => {
    const histories = Array.from({ length: 30 }, (_, i) => `h${i}: ${HISTORY}`).join(' ');
    const res = await timed(`query($n: Int = 0) { markets(first: $n) { edges { node { ${histories} } } } }`, { n: null });
    expectRefused(
      res,
      'query too large: it could return 30,000,100 items, the limit is 100,000 (each list counts at its first, every other list at its declared maximum size); ask for smaller pages',
    );
    expect(res.ms).toBeLessThan(1_000);
  });

  it(`refuses a document of more than ${MAX_TOKENS} tokens, and answers one of ${MAX_TOKENS}`, async () => {
    // `query Qn { __typename }` is 5 tokens: 1,000 operations are 5,000.
    const operations = Array.from({ length: MAX_TOKENS / 5 }, (_, i) => `query Q${i} { __typename }`);
    expect(await timed(operations.join('\n'), {}, 'Q0')).toMatchObject({ status: 200, data: { __typename: 'Query' } });
    const over = await timed(`${operations.join('\n')} query Extra { __typename }`, {}, 'Q0');
    expectRefused(over, `Token limit of ${MAX_TOKENS} exceeded.`);
    expect(over.ms).toBeLessThan(1_000);
    const huge = await timed(`{ ${'__typename '.repeat(90_000)}}`);
    expectRefused(huge, `Token limit of ${MAX_TOKENS} exceeded.`);
    expect(huge.ms).toBeLessThan(1_000);
  });

  it(`refuses more than ${MAX_DIRECTIVES} directives, and answers ${MAX_DIRECTIVES}`, async () => {
    const fields = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename @include(if: true)`).join(' ')} }`;
    const ok = await timed(fields(MAX_DIRECTIVES));
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.data ?? {})).toHaveLength(MAX_DIRECTIVES);
    expectRefused(await timed(fields(MAX_DIRECTIVES + 1)), `Directives limit of ${MAX_DIRECTIVES} exceeded, found ${MAX_DIRECTIVES + 1}.`);
  });

  it(`refuses introspection deeper than ${MAX_INTROSPECTION_DEPTH} levels in development mode, and answers one of ${MAX_INTROSPECTION_DEPTH}`, async () => {
    // __schema, types, n times ofType, name: n + 3 levels.
    const nested = (levels: number) => `{ __schema { types { ${'ofType { '.repeat(levels - 3)}name${' }'.repeat(levels - 3)} } } }`;
    const ok = await timed(nested(MAX_INTROSPECTION_DEPTH));
    expect(ok.status).toBe(200);
    expect(ok.errors).toBeUndefined();
    const res = await timed(nested(MAX_INTROSPECTION_DEPTH + 1));
    expectRefused(res, `Query depth limit of ${MAX_INTROSPECTION_DEPTH} exceeded, found ${MAX_INTROSPECTION_DEPTH + 1}.`);
    // Outside `__schema` the contract's limit holds, and a document past both gets one refusal.
    const typeQuery = `{ __type(name: "Coin") { fields { type { ${'ofType { '.repeat(17)}name${' }'.repeat(17)} } } } }`;
    expectRefused(await timed(typeQuery), `Query depth limit of ${MAX_DEPTH} exceeded, found ${MAX_INTROSPECTION_DEPTH + 1}.`);
  });

  it('answers the standard introspection query (what GraphiQL and codegen send)', async () => {
    const res = await timed(getIntrospectionQuery({ inputValueDeprecation: true, schemaDescription: true, specifiedByUrl: true, directiveIsRepeatable: true }));
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    expect(res.data).toMatchObject({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('the contract operations pass the limits with their expected variables', () => {
  const operations = readContractOperations();
  const range = { from: '2025-02-01T00:00:00Z', to: '2025-02-10T00:00:00Z' };

  it.each([
    ['Markets', { currency: 'usd', first: 250 }, { markets: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } }],
    ['Markets', { first: null }, { markets: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } }],
    ['CoinDetail', { id: 'bitcoin', currency: 'eur' }, { coin: null }],
    ['CoinHistory', { id: 'bitcoin', currency: 'usd', ...range, interval: 'RAW' }, { coin: null }],
    ['SearchCoins', { search: 'bit', first: 250 }, { coins: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } }],
    ['FetchStatus', {}, { fetchStatus: { lastSuccessAt: null, lastAttemptAt: null, coinsUpdated: 0 } }],
  ])('%s %j', async (operation, variables, data) => {
    expect(await gql(api.url, operations, variables, operation)).toEqual({ status: 200, data });
  });
});
