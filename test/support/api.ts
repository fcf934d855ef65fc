import { createLogger, parseConfig } from '@cryptoagg/core';
import { gatewayConfigSchema, startGateway } from '@cryptoagg/gateway';
import type { RunningService } from '@cryptoagg/http';
import { coinsConfigSchema, startCoinsSubgraph } from '@cryptoagg/coins';
import { pricesConfigSchema, startPricesSubgraph } from '@cryptoagg/prices';
import { freePort } from '@cryptoagg/testkit';
import type { z } from 'zod';

function parsed<S extends z.ZodType>(schema: S, env: Record<string, string>): z.output<S> {
  const result = parseConfig(schema, env);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

export interface Api {
  /** the gateway's GraphQL endpoint */
  url: string;
  coins: RunningService;
  prices: RunningService;
  gateway: RunningService;
  /** starts a stopped subgraph again, on its port, with its configuration */
  restart(name: 'coins' | 'prices'): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole API as in production, on free ports of 127.0.0.1: both subgraphs
 * and the gateway, talking real HTTP to each other, on the test's database
 * and Redis. `env` adds or overrides variables for all three.
 */
export async function startApi(env: Record<string, string>): Promise<Api> {
  const [coinsPort, pricesPort, gatewayPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const common = { HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env };
  const logger = createLogger('test-api', 'silent');
  const coinsConfig = parsed(coinsConfigSchema, { ...common, COINS_PORT: String(coinsPort) });
  const pricesConfig = parsed(pricesConfigSchema, { ...common, PRICES_PORT: String(pricesPort) });
  const [coins, prices] = await Promise.all([startCoinsSubgraph(coinsConfig, logger), startPricesSubgraph(pricesConfig, logger)]);
  const gateway = await startGateway(
    parsed(gatewayConfigSchema, {
      ...common,
      GATEWAY_PORT: String(gatewayPort),
      COINS_URL: `${coins.url}/graphql`,
      PRICES_URL: `${prices.url}/graphql`,
    }),
    logger,
  );
  const api: Api = {
    url: `${gateway.url}/graphql`,
    coins,
    prices,
    gateway,
    restart: async (name) => {
      if (name === 'coins') api.coins = await startCoinsSubgraph(coinsConfig, logger);
      else api.prices = await startPricesSubgraph(pricesConfig, logger);
    },
    stop: async () => {
      await api.gateway.stop();
      await Promise.all([api.coins.stop(), api.prices.stop()]);
    },
  };
  return api;
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

/** A POST as a client sends it; returns the HTTP status with the parsed body. */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  operationName?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables, ...(operationName ? { operationName } : {}) }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** The value of one Prometheus sample in a /metrics text, e.g. metric('cryptoagg_cache_requests_total{result="hit"}'). */
export async function metric(serviceUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}
