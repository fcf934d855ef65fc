import { env, loadConfig } from '@cryptoagg/core';
import { z } from 'zod';

const subgraphUrl = (example: string) => env.httpUrl(example).default(example);

export const gatewayConfigSchema = z
  .object({
    GATEWAY_PORT: env.port(4000),
    HOST: z.string().default('0.0.0.0'),
    COINS_URL: subgraphUrl('http://127.0.0.1:4001/graphql'),
    PRICES_URL: subgraphUrl('http://127.0.0.1:4002/graphql'),
    SUBGRAPH_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
    // Whole responses are kept this long (0 = off); it bounds how stale an answer can be.
    RESPONSE_CACHE_TTL_MS: env.int(2_000, 0, 4_000),
    NODE_ENV: env.nodeEnv,
    LOG_LEVEL: env.logLevel,
  })
  .refine((e) => e.NODE_ENV !== 'production' || e.SUBGRAPH_SECRET !== undefined, {
    path: ['SUBGRAPH_SECRET'],
    message: 'is required when NODE_ENV=production',
  })
  .transform((e) => ({
    port: e.GATEWAY_PORT,
    host: e.HOST,
    subgraphUrls: new Map([
      ['coins', e.COINS_URL],
      ['prices', e.PRICES_URL],
    ]),
    subgraphSecret: e.SUBGRAPH_SECRET,
    responseCacheTtlMs: e.RESPONSE_CACHE_TTL_MS,
    production: e.NODE_ENV === 'production',
    introspection: e.NODE_ENV !== 'production' || e.GRAPHQL_INTROSPECTION === 'true',
    logLevel: e.LOG_LEVEL,
  }));

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export const loadGatewayConfig = (source: NodeJS.ProcessEnv = process.env): GatewayConfig => loadConfig(gatewayConfigSchema, source);
