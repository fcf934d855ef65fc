import { env } from '@cryptoagg/core';
import { z } from 'zod';

/** The environment both subgraphs read; each adds its own port variable (and more) to it. */
export function subgraphEnvSchema<P extends string>(portVariable: P, defaultPort: number) {
  return z
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
      HOST: z.string().default('0.0.0.0'),
      SUBGRAPH_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
      GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
      NODE_ENV: env.nodeEnv,
      LOG_LEVEL: env.logLevel,
    })
    // An image has no embedded PostgreSQL (a dev dependency): say what is missing instead of failing on a module.
    .refine((e) => e.NODE_ENV !== 'production' || e.DATABASE_URL !== undefined, { path: ['DATABASE_URL'], message: 'is required when NODE_ENV=production' })
    .extend({ [portVariable]: env.port(defaultPort) } as Record<P, ReturnType<typeof env.port>>)
    .refine(
      (e) => {
        // The generic port key defeats the inferred type: read both values plainly.
        const values = e as Record<string, unknown>;
        return values.METRICS_PORT !== values[portVariable];
      },
      { path: ['METRICS_PORT'], message: `must differ from ${portVariable}` },
    );
}

/** Production subgraphs must only answer the gateway: the shared secret becomes mandatory. */
export const requireSecretInProduction = {
  check: (e: { NODE_ENV?: string | undefined; SUBGRAPH_SECRET?: string | undefined }) =>
    e.NODE_ENV !== 'production' || e.SUBGRAPH_SECRET !== undefined,
  params: { path: ['SUBGRAPH_SECRET'], message: 'is required when NODE_ENV=production' },
};

export interface SubgraphConfig {
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  cachePrefix: string;
  cacheTtlSeconds: number;
  cacheEnabled: boolean;
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
  name: string,
  port: number,
  e: {
    METRICS_PORT?: number | undefined;
    DATABASE_URL?: string | undefined;
    REDIS_URL?: string | undefined;
    REDIS_KEY_PREFIX: string;
    CACHE_TTL_SECONDS: number;
    CACHE_ENABLED: 'true' | 'false';
    HOST: string;
    SUBGRAPH_SECRET?: string | undefined;
    GRAPHQL_INTROSPECTION?: 'true' | 'false' | undefined;
    NODE_ENV?: string | undefined;
    LOG_LEVEL: string;
  },
): SubgraphConfig {
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    cachePrefix: `${e.REDIS_KEY_PREFIX}${name}:`,
    cacheTtlSeconds: e.CACHE_TTL_SECONDS,
    cacheEnabled: e.CACHE_ENABLED === 'true',
    port,
    metricsPort: e.METRICS_PORT,
    host: e.HOST,
    subgraphSecret: e.SUBGRAPH_SECRET,
    production: e.NODE_ENV === 'production',
    introspection: e.NODE_ENV !== 'production' || e.GRAPHQL_INTROSPECTION === 'true',
    logLevel: e.LOG_LEVEL,
  };
}
