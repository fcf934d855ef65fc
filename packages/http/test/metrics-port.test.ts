import { ApolloServer, type BaseContext } from '@apollo/server';
import { createLogger } from '@cryptoagg/core';
import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { apolloDefaults, startService, type RunningService } from '../src/index.js';

const logger = createLogger('metrics-port-test', 'silent');
const running: RunningService[] = [];
afterAll(() => Promise.all(running.map((service) => service.stop())));

/** A service whose registry holds one counter we can recognise in the scrape. */
async function start(metricsPort?: number): Promise<RunningService> {
  const registry = new Registry();
  new Counter({ name: 'metrics_port_test_total', help: 'a counter this test looks for', registers: [registry] }).inc(3);
  const service = await startService<BaseContext>(
    {
      name: 'metrics-port-test',
      logger,
      registry,
      buildApollo: (plugins) =>
        new ApolloServer<BaseContext>({
          typeDefs: 'type Query { hello: String }',
          resolvers: { Query: { hello: () => 'hi' } },
          ...apolloDefaults({ production: false, introspection: false }),
          plugins,
        }),
      context: () => Promise.resolve({}),
      readiness: {},
    },
    // Port 0: the kernel picks free ports, for the service and for its metrics listener alike.
    { port: 0, host: '127.0.0.1', ...(metricsPort === undefined ? {} : { metricsPort }) },
  );
  running.push(service);
  return service;
}

async function get(url: string, method = 'GET'): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(url, { method });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('METRICS_PORT', () => {
  it('set: /metrics is served on the metrics port only, and nothing else is', async () => {
    const service = await start(0);
    expect(service.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(service.metricsUrl).not.toBe(service.url);

    const scrape = await get(`${service.metricsUrl!}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scrape.text).toContain('metrics_port_test_total 3');
    expect(scrape.text).toContain('process_cpu_user_seconds_total');
    expect((await get(`${service.metricsUrl!}/metrics`, 'HEAD')).status).toBe(200);

    // The public port no longer answers /metrics.
    const hidden = await get(`${service.url}/metrics`);
    expect(hidden.status).toBe(404);
    expect(JSON.parse(hidden.text)).toEqual({ errors: [{ message: 'Not found', extensions: { code: 'NOT_FOUND' } }] });
    // The metrics port serves nothing but /metrics: no GraphQL, no health routes, no writes.
    for (const path of ['/graphql', '/healthz', '/readyz', '/', '/metrics/x']) expect((await get(`${service.metricsUrl!}${path}`)).status, path).toBe(404);
    expect((await get(`${service.metricsUrl!}/metrics`, 'POST')).status).toBe(404);
    // The service itself keeps working on its own port.
    expect((await get(`${service.url}/healthz`)).status).toBe(200);
  });

  it('set: stop() closes the metrics listener too', async () => {
    const service = await start(0);
    const metricsUrl = service.metricsUrl!;
    expect((await get(`${metricsUrl}/metrics`)).status).toBe(200);
    await service.stop();
    await expect(fetch(`${metricsUrl}/metrics`)).rejects.toThrow();
  });

  it('set to a port in use: start-up fails and leaves nothing listening', async () => {
    const first = await start(0);
    const taken = Number(new URL(first.metricsUrl!).port);
    await expect(start(taken)).rejects.toThrow(/EADDRINUSE/);
  });

  it('unset: /metrics stays on the service port (local runs) and there is no metrics listener', async () => {
    const service = await start();
    expect(service.metricsUrl).toBeUndefined();
    const scrape = await get(`${service.url}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.text).toContain('metrics_port_test_total 3');
  });
});
