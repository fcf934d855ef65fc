import { setTimeout as sleep } from 'node:timers/promises';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { createLogger } from '@cryptoagg/core';
import { Registry } from 'prom-client';
import { afterAll, expect, it } from 'vitest';
import { apolloDefaults, startService, type RunningService } from '../src/index.js';
import type { ResponseCacheOptions } from '../src/response-cache.js';

const typeDefs = /* GraphQL */ `
  type Query {
    "a string of kb kilobytes; tag only makes distinct queries"
    big(kb: Int!, tag: String): String
    "answers after ms milliseconds"
    slow(ms: Int!, tag: String): String
  }
`;

const logger = createLogger('response-cache-test', 'silent');
const running: RunningService[] = [];
afterAll(() => Promise.all(running.map((service) => service.stop())));

/** A service with the response cache in front of a schema that counts its executions. */
async function start(options: ResponseCacheOptions) {
  const executions = { big: 0, slow: 0 };
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
    },
  };
  const registry = new Registry();
  const service = await startService<BaseContext>(
    {
      name: 'response-cache-test',
      logger,
      registry,
      buildApollo: (plugins) => new ApolloServer<BaseContext>({ typeDefs, resolvers, ...apolloDefaults({ production: false, introspection: false }), plugins }),
      context: () => Promise.resolve({}),
      readiness: {},
      responseCache: options,
    },
    { port: 0, host: '127.0.0.1' },
  );
  running.push(service);
  const gauge = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
  return {
    executions,
    nextSlow,
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
  // Kept for twice the TTL (the second half as a stale copy), then gone.
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
