import { env, requiredInProduction, type Subgraph } from '@cryptoagg/core';
import { z } from 'zod';

/**
 * The environment every subgraph reads, with its port variable from the manifest (COINS_PORT, ...);
 * a subgraph may extend it with its own variables.
 */
export function subgraphEnvSchema(of: Subgraph) {
  const { variable: portVariable, default: defaultPort } = of.port;
  return (
    z
      .object({
        // Kubernetes serves /metrics on this port, which no Ingress or client Service exposes; unset, /metrics is on the service's port.
        METRICS_PORT: z
          .string()
          .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535, { message: 'must be a port number between 1 and 65535' })
          .transform(Number)
          .optional(),
        DATABASE_URL: env.databaseUrl.optional(),
        REDIS_URL: env.redisUrl.optional(),
        REDIS_KEY_PREFIX: z.string().default('cryptoagg:'),
        CACHE_TTL_SECONDS: env.int(300, 1, 86_400),
        // false turns caching off entirely (the benchmarks' uncached "stock" setup); not for production.
        CACHE_ENABLED: z.enum(['true', 'false']).default('true'),
        // The whole-response cache (answers by operation, variables and data version; see packages/http):
        // 0 turns it off, else the longest an answer is kept while the data version does not change.
        RESPONSE_CACHE_TTL_MS: env.int(300_000, 0, 86_400_000),
        // Its memory, in bytes of answers: beside the in-process data cache (64 MiB without Redis) in a 384 MiB pod.
        RESPONSE_CACHE_MAX_MB: env.int(32, 1, 128),
        HOST: z.string().default('0.0.0.0'),
        SUBGRAPH_SECRET: env.subgraphSecret,
        GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
        NODE_ENV: env.nodeEnv,
        LOG_LEVEL: env.logLevel,
      })
      .refine(...requiredInProduction.DATABASE_URL)
      .refine(...requiredInProduction.SUBGRAPH_SECRET)
      // The port's variable name is data, not a type: subgraphConfig reads it by name.
      .extend({ [portVariable]: env.port(defaultPort) } as Record<never, never>)
      .refine(
        (e) => {
          const values = e as Record<string, unknown>;
          return values.METRICS_PORT !== values[portVariable];
        },
        { path: ['METRICS_PORT'], message: `must differ from ${portVariable}` },
      )
  );
}

export interface SubgraphConfig {
  /** its name in the subgraph manifest (schema/subgraphs.yaml), which says where its SDL is */
  name: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  cachePrefix: string;
  cacheTtlSeconds: number;
  cacheEnabled: boolean;
  /** the whole-response cache's safety TTL (0 = off) and byte bound */
  responseCacheTtlMs: number;
  responseCacheMaxBytes: number;
  port: number;
  /** /metrics on a listener of its own when set (METRICS_PORT) */
  metricsPort: number | undefined;
  host: string;
  subgraphSecret: string | undefined;
  production: boolean;
  introspection: boolean;
  logLevel: string;
}

export function subgraphConfig(
  of: Subgraph,
  e: {
    METRICS_PORT?: number | undefined;
    DATABASE_URL?: string | undefined;
    REDIS_URL?: string | undefined;
    REDIS_KEY_PREFIX: string;
    CACHE_TTL_SECONDS: number;
    CACHE_ENABLED: 'true' | 'false';
    RESPONSE_CACHE_TTL_MS: number;
    RESPONSE_CACHE_MAX_MB: number;
    HOST: string;
    SUBGRAPH_SECRET?: string | undefined;
    GRAPHQL_INTROSPECTION?: 'true' | 'false' | undefined;
    NODE_ENV?: string | undefined;
    LOG_LEVEL: string;
  },
): SubgraphConfig {
  return {
    name: of.name,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    cachePrefix: `${e.REDIS_KEY_PREFIX}${of.name}:`,
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
    cacheEnabled: e.CACHE_ENABLED === 'true',
    responseCacheTtlMs: e.RESPONSE_CACHE_TTL_MS,
    responseCacheMaxBytes: e.RESPONSE_CACHE_MAX_MB * 1024 * 1024,
    port: Number((e as Record<string, unknown>)[of.port.variable]),
    metricsPort: e.METRICS_PORT,
    host: e.HOST,
    subgraphSecret: e.SUBGRAPH_SECRET,
    production: e.NODE_ENV === 'production',
    introspection: e.NODE_ENV !== 'production' || e.GRAPHQL_INTROSPECTION === 'true',
    logLevel: e.LOG_LEVEL,
  };
}
