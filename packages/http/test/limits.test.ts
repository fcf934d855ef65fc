import net from 'node:net';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { createLogger } from '@cryptoagg/core';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { apolloDefaults, startService, type RunningService } from '../src/index.js';

let service: RunningService;
afterAll(() => service.stop());

async function start(): Promise<RunningService> {
  service = await startService<BaseContext>(
    {
      name: 'limits',
      logger: createLogger('limits-test', 'silent'),
      registry: new Registry(),
      buildApollo: (plugins) =>
        new ApolloServer<BaseContext>({
          typeDefs: 'type Query { hello: String }',
          resolvers: { Query: { hello: () => 'hi' } },
          ...apolloDefaults({ production: true, introspection: false }),
          plugins,
        }),
      context: () => Promise.resolve({}),
      readiness: {},
      timeouts: { headersMs: 1_000, requestMs: 2_000 },
    },
    { port: 0, host: '127.0.0.1' },
  );
  return service;
}

/** Opens a raw connection, writes `chunks` (never finishing the request) and resolves with what the server did. */
function slowClient(port: number, chunks: string[]): Promise<{ closedAfterMs: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    const socket = net.connect(port, '127.0.0.1', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
    socket.on('data', (data: Buffer) => (answer += data.toString()));
    socket.on('close', () => resolve({ closedAfterMs: Date.now() - started, answer }));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept a slow client connected for 10 s'));
    }, 10_000).unref();
  });
}

describe('slow and oversized clients', () => {
  it('drops a client that never finishes its headers (slowloris) after the headers timeout, with 408', async () => {
    const { port } = await start();
    const result = await slowClient(port, ['POST /graphql HTTP/1.1\r\nHost: x\r\nX-Slow: ']);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(result.closedAfterMs).toBeLessThan(4_000);
  });

  it('drops a client that never finishes its body after the request timeout', async () => {
    const result = await slowClient(service.port, [
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":',
    ]);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(result.closedAfterMs).toBeLessThan(5_000);
  });

  it('refuses oversized headers with 431 and keeps serving', async () => {
    const response = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-padding': 'x'.repeat(20_000) },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    expect(response.status).toBe(431);
    const ok = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ hello }' }),
    });
    expect(await ok.json()).toEqual({ data: { hello: 'hi' } });
  });
});
