import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { createLogger, SUBGRAPH_SECRET_HEADER } from '@cryptoagg/core';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { apolloDefaults, startService, type RunningService, type ServiceOptions } from '../src/index.js';

const typeDefs = /* GraphQL */ `
  type Query {
    hello(name: String): String
    slow(ms: Int!): String
    boom: String
  }
`;
const resolvers = {
  Query: {
    hello: (_: unknown, { name }: { name?: string | null }) => `hello ${name ?? 'world'}`,
    slow: async (_: unknown, { ms }: { ms: number }) => {
      await sleep(ms);
      return 'done';
    },
    boom: () => {
      throw new Error('db password leaked');
    },
  },
};

const logLines: string[] = [];
const logger = createLogger('http-test', 'info', { write: (line: string) => void logLines.push(line) });
const running: RunningService[] = [];
afterAll(() => Promise.all(running.map((service) => service.stop())));

type Env = { production: boolean; introspection: boolean };
const DEV: Env = { production: false, introspection: false };

async function start(overrides: Partial<ServiceOptions<BaseContext>> = {}, env: Env = DEV): Promise<RunningService> {
  const service = await startService<BaseContext>(
    {
      name: 'test',
      logger,
      registry: new Registry(),
      buildApollo: (plugins) => new ApolloServer<BaseContext>({ typeDefs, resolvers, ...apolloDefaults(env), plugins }),
      context: () => Promise.resolve({}),
      readiness: {},
      ...overrides,
    },
    // Port 0: the kernel picks a free port, so parallel files never collide.
    { port: 0, host: '127.0.0.1' },
  );
  running.push(service);
  return service;
}

interface Answer {
  status: number;
  text: string;
  json: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: { code?: string; stacktrace?: string[] } }[];
  } & Record<string, unknown>;
}

async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: Answer['json'] = {};
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    // not JSON: the assertions on `json` fail with the text in view
  }
  return { status: res.status, text, json };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('GraphQL over HTTP', () => {
  it('answers queries over POST and GET, and keeps CSRF prevention on', async () => {
    const { url } = await start();
    const viaPost = await post(`${url}/graphql`, { query: '{ hello(name: "post") }' });
    expect(viaPost.status).toBe(200);
    expect(viaPost.json.data).toEqual({ hello: 'hello post' });

    const getUrl = `${url}/graphql?query=${encodeURIComponent('{ hello(name: "get") }')}`;
    const viaGet = await request(getUrl, { headers: { 'apollo-require-preflight': 'true' } });
    expect(viaGet.status).toBe(200);
    expect(viaGet.json.data).toEqual({ hello: 'hello get' });

    expect((await request(getUrl)).status).toBe(400);
    const plain = await request(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ hello }"}' });
    expect(plain.status).toBe(400);
    expect(plain.json.data).toBeUndefined();
  });

  it('serves GraphQL on the extra paths only when asked', async () => {
    const gateway = await start({ extraGraphqlPaths: ['/'] });
    expect((await post(`${gateway.url}/`, { query: '{ hello }' })).json.data).toEqual({ hello: 'hello world' });
    const subgraph = await start();
    const missing = await post(`${subgraph.url}/`, { query: '{ hello }' });
    expect(missing.status).toBe(404);
    expect(missing.json.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});

describe('health, readiness and metrics', () => {
  it('/healthz answers 200 while alive', async () => {
    const { url } = await start();
    const health = await request(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when every check answers', async () => {
    const { url } = await start({ readiness: { postgres: () => Promise.resolve(true), redis: () => Promise.resolve() } });
    const ready = await request(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
  });

  it('/readyz is 503 naming every failing, throwing or hanging check, within the timeout', async () => {
    const { url } = await start({
      readiness: {
        postgres: () => Promise.resolve(true),
        redis: () => Promise.resolve(false),
        coins: () => Promise.reject(new Error('connect ECONNREFUSED postgres://app:hunter2@db:5432/x')),
        prices: () => new Promise<boolean>(() => undefined),
      },
    });
    const started = Date.now();
    const ready = await request(`${url}/readyz`);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(ready.status).toBe(503);
    expect(ready.json).toEqual({
      status: 'unavailable',
      down: ['redis', 'coins', 'prices'],
      checks: { postgres: 'up', redis: 'down', coins: 'down', prices: 'down' },
    });
    expect(logLines.join('')).not.toContain('hunter2');
  });

  it('/metrics serves default and custom metrics in Prometheus format', async () => {
    const registry = new Registry();
    new Counter({ name: 'cryptoagg_test_things_total', help: 'things', registers: [registry] }).inc(3);
    const { url } = await start({ registry });
    const res = await fetch(`${url}/metrics`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('cryptoagg_test_things_total 3');
  });
});

describe('bad requests get JSON errors, never stack traces', () => {
  it('refuses a body over 1 MB with 413', async () => {
    const { url } = await start();
    const envelope = JSON.stringify({ query: '{ hello }', variables: { pad: '' } });
    const body = envelope.replace('"pad":""', `"pad":"${'x'.repeat(1024 * 1024 + 1 - envelope.length)}"`);
    expect(Buffer.byteLength(body)).toBe(1024 * 1024 + 1);
    const res = await post(`${url}/graphql`, body);
    expect(res.status).toBe(413);
    expect(res.json).toEqual({ errors: [{ message: 'Request body larger than 1 MB', extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });

  it('refuses malformed JSON and batches with 400 BAD_REQUEST', async () => {
    const { url } = await start();
    const malformed = await post(`${url}/graphql`, '{"query": "{ hello }"');
    expect(malformed.status).toBe(400);
    expect(malformed.json.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(malformed.json.errors?.[0]?.message).toMatch(/^Malformed JSON body: /);

    const batch = await post(`${url}/graphql`, [{ query: '{ hello }' }, { query: '{ hello }' }]);
    expect(batch.status).toBe(400);
    expect(batch.json.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(batch.json.errors?.[0]?.message).toMatch(/batched requests .* not supported/i);

    for (const res of [malformed, batch]) expect(res.text).not.toContain('    at ');
  });

  it('answers an unexpected failure with a bare JSON 500 and logs it without secrets', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'cryptoagg_test_broken',
      help: 'a collector that fails',
      registers: [registry],
      collect() {
        throw new Error('redis://default:hunter2@cache:6379 refused');
      },
    });
    const { url } = await start({ registry });
    const res = await request(`${url}/metrics`);
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    const logged = logLines.filter((line) => line.includes('refused'));
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('')).not.toContain('hunter2');
  });
});

describe('subgraph secret', () => {
  it('refuses GraphQL without the secret but keeps health routes open', async () => {
    const { url } = await start({ subgraphSecret: 's3cret' });
    const without = await post(`${url}/graphql`, { query: '{ hello }' });
    expect(without.status).toBe(401);
    expect(without.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await post(`${url}/graphql`, { query: '{ hello }' }, { [SUBGRAPH_SECRET_HEADER]: 'wrong' })).status).toBe(401);
    const withSecret = await post(`${url}/graphql`, { query: '{ hello }' }, { [SUBGRAPH_SECRET_HEADER]: 's3cret' });
    expect(withSecret.status).toBe(200);
    expect(withSecret.json.data).toEqual({ hello: 'hello world' });
    expect((await request(`${url}/healthz`)).status).toBe(200);
    expect((await request(`${url}/metrics`)).status).toBe(200);
  });
});

describe('production defaults', () => {
  const introspection = { query: '{ __schema { queryType { name } } }' };

  it('refuses introspection in production unless allowed', async () => {
    const locked = await start({}, { production: true, introspection: false });
    const refused = await post(`${locked.url}/graphql`, introspection);
    expect(refused.status).toBe(400);
    expect(refused.json.errors?.[0]?.message).toMatch(/introspection/i);
    expect(refused.json.data).toBeUndefined();

    const open = await start({}, { production: true, introspection: true });
    expect((await post(`${open.url}/graphql`, introspection)).json.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('masks unexpected errors in production and shows them in development', async () => {
    const prod = await start({}, { production: true, introspection: false });
    const masked = await post(`${prod.url}/graphql`, { query: '{ boom }' });
    expect(masked.status).toBe(200);
    expect(masked.json.errors?.[0]?.message).toBe('Internal server error');
    expect(masked.json.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(masked.text).not.toContain('leaked');
    expect(masked.text).not.toContain('    at ');
    // The operator still sees what happened.
    expect(logLines.some((line) => line.includes('db password leaked') && line.includes('"level":50'))).toBe(true);

    const dev = await start();
    const shown = await post(`${dev.url}/graphql`, { query: '{ boom }' });
    expect(shown.json.errors?.[0]?.message).toBe('db password leaked');
    expect(shown.json.errors?.[0]?.extensions?.stacktrace?.length).toBeGreaterThan(0);
  });

  it('masks a failing context function in production', async () => {
    const prod = await start(
      { context: () => Promise.reject(new Error('pool exhausted at postgres://app:hunter2@db/x')) },
      { production: true, introspection: false },
    );
    const res = await post(`${prod.url}/graphql`, { query: '{ hello }' });
    expect(res.status).toBe(500);
    expect(res.json.errors?.[0]?.message).toBe('Internal server error');
    expect(res.text).not.toContain('hunter2');
    const logged = logLines.filter((line) => line.includes('pool exhausted'));
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('')).not.toContain('hunter2');
  });

  it('drops field suggestions in production only', async () => {
    const prod = await start({}, { production: true, introspection: false });
    const res = await post(`${prod.url}/graphql`, { query: '{ helo }' });
    expect(res.status).toBe(400);
    expect(res.json.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.json.errors?.[0]?.message).toContain('helo');
    expect(res.text).not.toContain('Did you mean');
    expect(res.text).not.toContain('    at ');

    const dev = await start();
    expect((await post(`${dev.url}/graphql`, { query: '{ helo }' })).text).toContain('Did you mean');
  });
});

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

describe('graceful stop', () => {
  it('finishes in-flight requests, refuses new connections and closes pools once', async () => {
    let closed = 0;
    const service = await start({
      onClose: () => {
        closed += 1;
        return Promise.resolve();
      },
    });
    const inFlight = post(`${service.url}/graphql`, { query: '{ slow(ms: 500) }' });
    await sleep(100);
    const started = Date.now();
    const stopping = service.stop();
    expect(service.stop()).toBe(stopping);

    await sleep(50);
    expect(await connectError(service.port)).toBe('ECONNREFUSED');

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.json.data).toEqual({ slow: 'done' });
    await stopping;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(closed).toBe(1);
    await service.stop();
    expect(closed).toBe(1);
  });
});

describe('signals', () => {
  it('on SIGTERM finishes the request in flight, closes pools and exits 0', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/serve.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /"port":(\d+)/.exec(stdout);
          if (match?.[1]) resolve(Number(match[1]));
        });
        void exited.then(() => reject(new Error(`fixture exited early: ${stdout}${stderr}`)));
      });
      const inFlight = post(`http://127.0.0.1:${port}/graphql`, { query: '{ slow(ms: 300) }' });
      await sleep(100);
      child.kill('SIGTERM');
      child.kill('SIGINT');
      expect((await inFlight).json.data).toEqual({ slow: 'done' });
      expect(await exited).toEqual([0, null]);
      expect(stdout.match(/"msg":"stopping"/g)).toHaveLength(1);
      expect(stdout).toContain('pools closed');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
