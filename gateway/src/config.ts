import { env, loadConfig, requiredInProduction, subgraphs, type Subgraph } from '@cryptoagg/core';
import { z } from 'zod';

/** Optional, unlike env.port (which always has a default). */
const metricsPort = z
  .string()
  .refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535, { message: 'must be a port number between 1 and 65535' })
  .transform(Number)
  .optional();

/**
 * The gateway's environment for a roster of subgraphs: besides its own
 * settings, one variable per subgraph (COINS_URL, ...) saying where to find it,
 * defaulting to the manifest's routing URL. Those names are data, not types: the
 * object's type leaves them out and the transform reads them by name.
 */
export const gatewayConfigSchemaFor = (roster: readonly Subgraph[]) => {
  const urlVariables: object = Object.fromEntries(roster.map((s) => [s.url.variable, env.httpUrl(s.url.default).default(s.url.default)]));
  const urls = (e: object) => new Map(roster.map((s) => [s.name, String((e as Record<string, unknown>)[s.url.variable])]));
  return z
    .object({
      GATEWAY_PORT: env.port(4000),
      HOST: z.string().default('0.0.0.0'),
      ...urlVariables,
      SUBGRAPH_SECRET: env.subgraphSecret,
      GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
      // The browser IDE at GET /graphql and /: on in development unless `false`, off in production unless `true`.
      GRAPHQL_IDE: z.enum(['true', 'false']).optional(),
      // Whole responses are kept until the data version changes; this is only a safety bound on top (0 = off).
      // Freshness comes from the version (Redis and the subgraphs), not from this TTL.
      RESPONSE_CACHE_TTL_MS: env.int(300_000, 0, 86_400_000),
      // Where the fetcher publishes each new data version; unset, the gateway follows the subgraphs only.
      REDIS_URL: env.redisUrl.optional(),
      REDIS_KEY_PREFIX: z.string().default('cryptoagg:'),
      // Its memory, in bytes not answers (the pod's limit is 512 MiB); a larger answer is served but never kept.
      RESPONSE_CACHE_MAX_MB: env.int(64, 1, 256),
      RESPONSE_CACHE_MAX_ANSWER_KB: env.int(1_024, 1, 256 * 1_024),
      // Kubernetes serves /metrics on this port, which no Ingress or client Service exposes; unset, /metrics is on GATEWAY_PORT.
      METRICS_PORT: metricsPort,
      NODE_ENV: env.nodeEnv,
      LOG_LEVEL: env.logLevel,
    })
    .refine(...requiredInProduction.SUBGRAPH_SECRET)
    .refine((e) => e.RESPONSE_CACHE_MAX_ANSWER_KB <= e.RESPONSE_CACHE_MAX_MB * 1_024, {
      path: ['RESPONSE_CACHE_MAX_ANSWER_KB'],
      message: 'must not exceed RESPONSE_CACHE_MAX_MB (in KB)',
      // Only once both parse: a bad size already has its own line.
      when: ({ issues }) => !issues.some((issue) => ['RESPONSE_CACHE_MAX_MB', 'RESPONSE_CACHE_MAX_ANSWER_KB'].includes(String(issue.path?.[0]))),
    })
    .refine((e) => e.METRICS_PORT !== e.GATEWAY_PORT, { path: ['METRICS_PORT'], message: 'must differ from GATEWAY_PORT' })
    .transform((e) => ({
      port: e.GATEWAY_PORT,
      metricsPort: e.METRICS_PORT,
      host: e.HOST,
      subgraphUrls: urls(e),
      subgraphSecret: e.SUBGRAPH_SECRET,
      responseCacheTtlMs: e.RESPONSE_CACHE_TTL_MS,
      redisUrl: e.REDIS_URL,
      redisKeyPrefix: e.REDIS_KEY_PREFIX,
      responseCacheMaxBytes: e.RESPONSE_CACHE_MAX_MB * 1024 * 1024,
      responseCacheMaxAnswerBytes: e.RESPONSE_CACHE_MAX_ANSWER_KB * 1024,
      production: e.NODE_ENV === 'production',
      introspection: e.NODE_ENV !== 'production' || e.GRAPHQL_INTROSPECTION === 'true',
      ide: e.NODE_ENV === 'production' ? e.GRAPHQL_IDE === 'true' : e.GRAPHQL_IDE !== 'false',
      logLevel: e.LOG_LEVEL,
    }));
};

export const gatewayConfigSchema = gatewayConfigSchemaFor(subgraphs());
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export const loadGatewayConfig = (source: NodeJS.ProcessEnv = process.env): GatewayConfig => loadConfig(gatewayConfigSchema, source);
