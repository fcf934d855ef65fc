import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { createLogger } from '@cryptoagg/core';
import { Registry } from 'prom-client';
import { afterAll, expect, it } from 'vitest';
import { apolloDefaults, DATA_VERSION_HEADER, reportAnswerVersion, startService, type DataVersionSource, type RunningService } from '../src/index.js';
import type { ResponseCacheOptions } from '../src/response-cache.js';

const typeDefs = /* GraphQL */ `
  type Query {
    "a string of kb kilobytes; tag only makes distinct queries"
    big(kb: Int!, tag: String): String
    "answers after ms milliseconds"
    slow(ms: Int!, tag: String): String
    "the data version the test's source holds while it executes; bump: the version moves on during the execution"
    version(tag: String, bump: Boolean): Int
  }
`;

const logger = createLogger('response-cache-test', 'silent');
const running: RunningService[] = [];
afterAll(() => Promise.all(running.map((service) => service.stop())));

/** A data version the test moves by hand; `asked` records every version a request said its caller had seen. */
function testVersion(initial: number) {
  let value = initial;
  const listeners = new Set<(version: number) => void>();
  const asked: number[] = [];
  const set = (next: number) => {
    value = next;
    for (const listener of listeners) listener(next);
  };
  const source: DataVersionSource = {
    current: () => value,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    atLeast: (min) => {
      asked.push(min);
      set(Math.max(value, min));
      return Promise.resolve();
    },
  };
  return { source, set, asked };
}

/** A service with the response cache in front of a schema that counts its executions. */
async function start(
  options: ResponseCacheOptions,
  extra: { version?: ReturnType<typeof testVersion>; report?: (req: IncomingMessage) => void; subgraphSecret?: string } = {},
) {
  const executions = { big: 0, slow: 0, version: 0 };
  /** when set, the next slow execution takes this long instead of its `ms` */
  const nextSlow: { ms?: number } = {};
  const resolvers = {
    Query: {
      big: (_: unknown, { kb }: { kb: number }) => {
        executions.big++;
        return 'x'.repeat(kb * 1024);
      },
      slow: async (_: unknown, { ms }: { ms: number }) => {
        executions.slow++;
        const wait = nextSlow.ms ?? ms;
        delete nextSlow.ms;
        await sleep(wait);
        return `slept ${ms}`;
      },
      version: (_: unknown, { bump }: { bump?: boolean }) => {
        executions.version++;
        const now = extra.version?.source.current() ?? 0;
        if (bump) extra.version?.set(now + 1);
        return now;
      },
    },
  };
  const registry = new Registry();
  const service = await startService<BaseContext>(
    {
      name: 'response-cache-test',
      logger,
      registry,
      buildApollo: (plugins) => new ApolloServer<BaseContext>({ typeDefs, resolvers, ...apolloDefaults({ production: false, introspection: false }), plugins }),
      context: ({ req }) => {
        extra.report?.(req);
        return Promise.resolve({});
      },
      readiness: {},
      responseCache: options,
      dataVersion: extra.version?.source,
      subgraphSecret: extra.subgraphSecret,
    },
    { port: 0, host: '127.0.0.1' },
  );
  running.push(service);
  const gauge = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
  return {
    executions,
    nextSlow,
    url: service.url,
    lookups: async () => {
      const values = (await registry.getSingleMetric('cryptoagg_cache_requests_total')?.get())?.values ?? [];
      return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
    },
    cached: async () => ({ entries: await gauge('cryptoagg_response_cache_entries'), bytes: await gauge('cryptoagg_response_cache_bytes') }),
    ask: async (query: string, signal?: AbortSignal) => {
      const response = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
        signal,
      });
      return { status: response.status, body: (await response.json()) as { data?: Record<string, string> } };
    },
  };
}

/** Sends a request and abandons it after `ms`, as a client that goes away mid-execution. */
async function disconnectAfter(ask: (query: string, signal: AbortSignal) => Promise<unknown>, query: string, ms: number) {
  const aborted = ask(query, AbortSignal.timeout(ms)).catch((error: unknown) => (error instanceof Error ? error.name : 'rejected'));
  expect(await aborted).toBe('TimeoutError');
}

const KB = 1024;

it('keeps many distinct large answers within its byte bound, the most recent ones', async () => {
  const maxBytes = 1024 * KB;
  const cache = await start({ ttlMs: 4_000, maxBytes, maxAnswerBytes: 300 * KB });
  for (let i = 0; i < 30; i++) {
    const answer = await cache.ask(`{ big(kb: 200, tag: "${i}") }`);
    expect(answer.status).toBe(200);
    expect(answer.body.data?.big).toHaveLength(200 * KB);
  }
  expect(cache.executions.big).toBe(30);
  // 30 answers of 200 KB would be 6 MB: only as many as fit in 1 MB stay.
  const { entries, bytes } = await cache.cached();
  expect(entries).toBe(5);
  expect(bytes).toBeGreaterThan(5 * 200 * KB);
  expect(bytes).toBeLessThanOrEqual(maxBytes);

  await cache.ask(`{ big(kb: 200, tag: "29") }`);
  await cache.ask(`{ big(kb: 200, tag: "25") }`);
  expect(cache.executions.big).toBe(30);
  await cache.ask(`{ big(kb: 200, tag: "0") }`);
  expect(cache.executions.big).toBe(31);
  expect((await cache.cached()).entries).toBe(5);
});

it('answers an answer above the per-answer threshold but never keeps it', async () => {
  const cache = await start({ ttlMs: 4_000, maxAnswerBytes: 100 * KB });
  const large = '{ big(kb: 150) }';
  const first = await cache.ask(large);
  const second = await cache.ask(large);
  expect(first).toEqual({ status: 200, body: { data: { big: 'x'.repeat(150 * KB) } } });
  expect(second).toEqual(first);
  expect(cache.executions.big).toBe(2);
  expect(await cache.cached()).toEqual({ entries: 0, bytes: 0 });

  const small = '{ big(kb: 50) }';
  expect((await cache.ask(small)).body.data?.big).toHaveLength(50 * KB);
  expect((await cache.ask(small)).body.data?.big).toHaveLength(50 * KB);
  expect(cache.executions.big).toBe(3);
  expect((await cache.cached()).entries).toBe(1);
});

it('purges expired answers from memory without waiting for them to be asked for again', async () => {
  const cache = await start({ ttlMs: 100 });
  await cache.ask('{ big(kb: 64, tag: "a") }');
  await cache.ask('{ big(kb: 64, tag: "b") }');
  expect((await cache.cached()).entries).toBe(2);
  // The TTL is a safety bound: past it an answer is gone even though the data version never changed.
  await sleep(400);
  expect(await cache.cached()).toEqual({ entries: 0, bytes: 0 });
});

it('a client that disconnects mid-execution does not end the sharing: the others get the one execution', async () => {
  const cache = await start({ ttlMs: 4_000 });
  const query = '{ slow(ms: 400) }';
  const leaving = disconnectAfter(cache.ask, query, 100);
  await sleep(30);
  const waiting = cache.ask(query);
  await leaving;
  // Joins after the disconnect, while the execution goes on.
  const late = cache.ask(query);
  expect(await waiting).toEqual({ status: 200, body: { data: { slow: 'slept 400' } } });
  expect(await late).toEqual({ status: 200, body: { data: { slow: 'slept 400' } } });
  expect(cache.executions.slow).toBe(1);
  // The abandoned request's answer was kept for the next one.
  expect(await cache.ask(query)).toEqual({ status: 200, body: { data: { slow: 'slept 400' } } });
  expect(cache.executions.slow).toBe(1);
});

it('an execution that outlives its abandoned client never ends a newer execution of the same query', async () => {
  // A short TTL: the first execution's answer, kept at t=500, is no longer fresh when the joining request comes.
  const cache = await start({ ttlMs: 20, abandonAfterMs: 100 });
  const query = '{ slow(ms: 500) }';
  // t=0 the first execution starts; t=50 its client leaves; t=150 it counts as abandoned.
  await disconnectAfter(cache.ask, query, 50);
  await sleep(150);
  // t=200 a newer request executes on its own (until t=700); the first execution ends at t=500.
  const newer = cache.ask(query);
  await sleep(350);
  expect(cache.executions.slow).toBe(2);
  // t=550: the newer execution is still the one to share.
  const joining = cache.ask(query);
  expect(await newer).toEqual({ status: 200, body: { data: { slow: 'slept 500' } } });
  expect(await joining).toEqual({ status: 200, body: { data: { slow: 'slept 500' } } });
  expect(cache.executions.slow).toBe(2);
});

it('requests waiting for an execution that never ends, after its client left, run their own after the bound', async () => {
  const cache = await start({ ttlMs: 4_000, abandonAfterMs: 200 });
  const query = '{ slow(ms: 10) }';
  cache.nextSlow.ms = 2_000;
  const leaving = disconnectAfter(cache.ask, query, 50);
  await sleep(20);
  const started = performance.now();
  const waiting = cache.ask(query);
  await leaving;
  expect(await waiting).toEqual({ status: 200, body: { data: { slow: 'slept 10' } } });
  expect(performance.now() - started).toBeLessThan(1_000);
  expect(cache.executions.slow).toBe(2);
});

/** One request as a client sends it: the raw body, any headers; the answer's status, headers and text. */
async function send(url: string, init: { body?: string; method?: string; path?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${url}${init.path ?? '/graphql'}`, {
    method: init.method ?? 'POST',
    headers: { ...(init.method === 'GET' ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body,
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}
const queryBody = (query: string) => JSON.stringify({ query });

it('keeps an answer until the data version changes, however long that is, and says which version it is of', async () => {
  const version = testVersion(7);
  const cache = await start({ ttlMs: 60_000 }, { version });
  const query = queryBody('{ version(tag: "a") }');
  const first = await send(cache.url, { body: query });
  expect({ status: first.status, text: first.text, version: first.headers.get(DATA_VERSION_HEADER) }).toEqual({
    status: 200,
    text: '{"data":{"version":7}}\n',
    version: '7',
  });
  for (let i = 0; i < 5; i++) expect((await send(cache.url, { body: query })).text).toBe(first.text);
  expect(cache.executions.version).toBe(1);
  expect(await cache.lookups()).toMatchObject({ hit: 5, miss: 1 });

  // A new version: every kept answer is gone at once, and the next request computes the new one.
  version.set(8);
  expect(await cache.cached()).toEqual({ entries: 0, bytes: 0 });
  const second = await send(cache.url, { body: query });
  expect({ text: second.text, version: second.headers.get(DATA_VERSION_HEADER) }).toEqual({ text: '{"data":{"version":8}}\n', version: '8' });
  expect((await send(cache.url, { body: query })).text).toBe(second.text);
  expect(cache.executions.version).toBe(2);
});

it('never keeps an answer computed from an older version than the newest it knows', async () => {
  const version = testVersion(7);
  let reported: number | undefined;
  const cache = await start(
    { ttlMs: 60_000 },
    {
      version,
      report: (req) => {
        if (reported !== undefined) reportAnswerVersion(req, reported);
      },
    },
  );
  // The version moves on while the answer is computed: the answer is of 7, which is no longer the newest.
  const moving = queryBody('{ version(tag: "moving", bump: true) }');
  const during = await send(cache.url, { body: moving });
  expect({ text: during.text, version: during.headers.get(DATA_VERSION_HEADER) }).toEqual({ text: '{"data":{"version":7}}\n', version: '7' });
  expect(version.source.current()).toBe(8);
  expect((await send(cache.url, { body: moving })).text).toBe('{"data":{"version":8}}\n');
  expect(cache.executions.version).toBe(2);
  expect((await cache.cached()).entries).toBe(0);

  // A part of the answer reports an older version (a subgraph behind the gateway): answered, never kept.
  version.set(20);
  reported = 19;
  const query = queryBody('{ version(tag: "reported") }');
  const older = await send(cache.url, { body: query });
  expect({ text: older.text, version: older.headers.get(DATA_VERSION_HEADER) }).toEqual({ text: '{"data":{"version":20}}\n', version: '19' });
  await send(cache.url, { body: query });
  expect(cache.executions.version).toBe(4);
  // Reported as the newest: kept.
  reported = 20;
  await send(cache.url, { body: query });
  const kept = await send(cache.url, { body: query });
  expect({ text: kept.text, version: kept.headers.get(DATA_VERSION_HEADER) }).toEqual({ text: '{"data":{"version":20}}\n', version: '20' });
  expect(cache.executions.version).toBe(5);
});

it('sends a strong ETag and Cache-Control, and answers a matching If-None-Match with 304 and no body', async () => {
  const version = testVersion(1);
  const cache = await start({ ttlMs: 60_000 }, { version });
  const body = queryBody('{ big(kb: 1, tag: "etag") }');
  const miss = await send(cache.url, { body });
  const hit = await send(cache.url, { body });
  const etag = miss.headers.get('etag');
  expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  for (const answer of [miss, hit]) {
    expect({ status: answer.status, etag: answer.headers.get('etag'), cacheControl: answer.headers.get('cache-control') }).toEqual({
      status: 200,
      etag,
      cacheControl: 'public, max-age=0, must-revalidate',
    });
  }
  for (const ifNoneMatch of [etag!, `W/${etag!}`, `"other", ${etag!}`, '*']) {
    const revalidated = await send(cache.url, { body, headers: { 'if-none-match': ifNoneMatch } });
    expect({ status: revalidated.status, text: revalidated.text, etag: revalidated.headers.get('etag') }, ifNoneMatch).toEqual({ status: 304, text: '', etag });
  }
  expect((await send(cache.url, { body, headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  expect(cache.executions.big).toBe(1);

  // A new version whose answer has the same bytes has the same ETag: the client's copy is still good.
  version.set(2);
  const again = await send(cache.url, { body, headers: { 'if-none-match': etag! } });
  expect({ status: again.status, text: again.text }).toEqual({ status: 304, text: '' });
  expect(cache.executions.big).toBe(2);
});

it('keys answers by the raw request: POST bodies byte for byte, GET query strings (with the CSRF header required on hits too)', async () => {
  const cache = await start({ ttlMs: 60_000 }, { version: testVersion(1) });
  const spellings = ['{"query":"{ big(kb: 1, tag: \\"raw\\") }","variables":{}}', '{"variables":{},"query":"{ big(kb: 1, tag: \\"raw\\") }"}'];
  for (const body of [...spellings, ...spellings]) expect((await send(cache.url, { body })).status).toBe(200);
  expect(cache.executions.big).toBe(2);

  const path = `/graphql?query=${encodeURIComponent('{ big(kb: 1, tag: "get") }')}`;
  const preflight = { 'apollo-require-preflight': 'true' };
  const first = await send(cache.url, { method: 'GET', path, headers: preflight });
  const second = await send(cache.url, { method: 'GET', path, headers: preflight });
  expect([first.status, second.status, second.text]).toEqual([200, 200, first.text]);
  expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
  expect(cache.executions.big).toBe(3);
  // A cached answer is no way around Apollo's CSRF prevention.
  expect((await send(cache.url, { method: 'GET', path })).status).toBe(400);
  expect(cache.executions.big).toBe(3);
});

it('reads a newer data version its caller has seen before answering, and only a newer one', async () => {
  const version = testVersion(7);
  const cache = await start({ ttlMs: 60_000 }, { version });
  const answer = await send(cache.url, { body: queryBody('{ version(tag: "asked") }'), headers: { [DATA_VERSION_HEADER]: '9' } });
  expect({ text: answer.text, version: answer.headers.get(DATA_VERSION_HEADER) }).toEqual({ text: '{"data":{"version":9}}\n', version: '9' });
  for (const seen of ['3', '9', 'not-a-version'])
    await send(cache.url, { body: queryBody('{ version(tag: "older") }'), headers: { [DATA_VERSION_HEADER]: seen } });
  expect(version.asked).toEqual([9]);
});

it('answers from memory only requests carrying the subgraph secret, and leaves malformed or oversized bodies to express', async () => {
  const cache = await start({ ttlMs: 60_000 }, { version: testVersion(1), subgraphSecret: 'a-secret-of-the-test-0123456789' });
  const body = queryBody('{ big(kb: 1, tag: "secret") }');
  const secret = { 'x-subgraph-secret': 'a-secret-of-the-test-0123456789' };
  expect((await send(cache.url, { body, headers: secret })).status).toBe(200);
  expect((await send(cache.url, { body, headers: secret })).status).toBe(200);
  expect(cache.executions.big).toBe(1);
  const refused = await send(cache.url, { body });
  expect({ status: refused.status, body: JSON.parse(refused.text) as unknown }).toEqual({
    status: 401,
    body: { errors: [{ message: 'Missing or wrong x-subgraph-secret header', extensions: { code: 'UNAUTHENTICATED' } }] },
  });

  const malformed = await send(cache.url, { body: '{"query": ', headers: secret });
  expect(malformed.status).toBe(400);
  expect(JSON.parse(malformed.text)).toMatchObject({
    errors: [{ message: expect.stringMatching(/^Malformed JSON body: /) as string, extensions: { code: 'BAD_REQUEST' } }],
  });
  const oversized = await send(cache.url, { body: JSON.stringify({ query: `{ big(kb: 1) } #${'x'.repeat(1024 * 1024)}` }), headers: secret });
  expect(oversized.status).toBe(413);
});
