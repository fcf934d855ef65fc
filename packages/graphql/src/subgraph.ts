import { ApolloServer, type BaseContext } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createCache, type Cache } from '@cryptoagg/cache';
import { createLogger, readContractOperations, readSdl, subgraph, type Logger } from '@cryptoagg/core';
import { createDb, isDatabaseUnavailable, resolveDatabase, type Knex } from '@cryptoagg/db';
import { apolloDefaults, operationNames, startService, type RunningService } from '@cryptoagg/http';
import { counter, RESPONSE_CACHE_REQUESTS } from '@cryptoagg/metrics';
import { parse } from 'graphql';
import { Registry } from 'prom-client';
import type { SubgraphConfig } from './config.js';
import { instrumentDb, registerFreshnessGauge } from './metrics.js';
import { trackDataVersion, type DataVersion } from './version.js';

type SubgraphModule = Extract<Extract<Parameters<typeof buildSubgraphSchema>[0], readonly unknown[]>[number], { typeDefs: unknown }>;
type SubgraphResolvers = NonNullable<SubgraphModule['resolvers']>;

export const DATA_STORE_UNAVAILABLE = 'The data store is unavailable; try again shortly';

/** What a browser opening a subgraph sees: a subgraph serves the gateway; people query the API (and its IDE) there. */
const subgraphLandingPage = (name: string): string => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${name} subgraph · Crypto Aggregator</title>
  </head>
  <body>
    <h1>The ${name} subgraph</h1>
    <p>This service is one part of the federated API and answers the gateway, not browsers.</p>
    <p>Query the API, with an interactive IDE, on the gateway: <a href="http://localhost:4000/graphql">http://localhost:4000/graphql</a> under <code>npm start</code> (port <code>GATEWAY_PORT</code>).</p>
  </body>
</html>
`;

export interface SubgraphServices {
  db: Knex;
  /** a one-connection pool for background reads (version poll, metrics), kept out of the request metrics */
  backgroundDb: Knex;
  cache: Cache;
  version: DataVersion;
  logger: Logger;
  registry: Registry;
}

export interface SubgraphDefinition<TContext extends BaseContext> {
  config: SubgraphConfig;
  /** the generated `Resolvers` of the subgraph */
  resolvers: SubgraphResolvers;
  createContext(services: SubgraphServices): TContext;
  /** extra metrics a subgraph exports, registered once at start */
  registerMetrics?(services: SubgraphServices): void;
  logger?: Logger;
}

/**
 * Wires a subgraph: Postgres (embedded when DATABASE_URL is unset), the cache
 * (Redis or in-process), the data version that keys it, the federated schema
 * from its SDL (as the manifest names it), and the HTTP layer with /healthz,
 * /readyz and /metrics.
 */
export async function startSubgraph<TContext extends BaseContext>(definition: SubgraphDefinition<TContext>): Promise<RunningService> {
  const { config } = definition;
  const { name } = config;
  const logger = definition.logger ?? createLogger(name, config.logLevel);
  const database = await resolveDatabase(config.databaseUrl);
  const db = createDb({ url: database.url, poolMax: 10, applicationName: `cryptoagg-${name}`, statementTimeoutMs: 10_000 });
  const registry = new Registry();
  const cache = createCache({
    redisUrl: config.redisUrl,
    keyPrefix: config.cachePrefix,
    ttlSeconds: config.cacheTtlSeconds,
    enabled: config.cacheEnabled,
    logger,
    registry,
  });
  // Background reads (version poll, freshness gauge) get a pool of their own, so the query metrics count only what requests cost.
  const backgroundDb = createDb({ url: database.url, poolMax: 1, applicationName: `cryptoagg-${name}-background` });
  const version = await trackDataVersion(backgroundDb, database.url, logger);
  instrumentDb(registry, db);
  const services: SubgraphServices = { db, backgroundDb, cache, version, logger, registry };
  registerFreshnessGauge(registry, backgroundDb);
  // Exported (at zero) even when RESPONSE_CACHE_TTL_MS=0 turns the response cache off.
  counter(registry, RESPONSE_CACHE_REQUESTS);
  definition.registerMetrics?.(services);

  const defaults = apolloDefaults({ production: config.production, introspection: config.introspection });
  const schema = buildSubgraphSchema([{ typeDefs: parse(readSdl(subgraph(name))), resolvers: definition.resolvers }]);
  const service = await startService<TContext>(
    {
      name,
      logger,
      registry,
      // The gateway names its fetches after the client's operation: the contract's keep their names in the metrics.
      operations: operationNames(readContractOperations()),
      buildApollo: (plugins) =>
        new ApolloServer<TContext>({
          schema,
          ...defaults,
          // An outage is not a bug: say so plainly (and retryably) rather than "Internal server error".
          formatError: (formatted, error) =>
            isDatabaseUnavailable(unwrapResolverError(error))
              ? { message: DATA_STORE_UNAVAILABLE, path: formatted.path, extensions: { code: 'SERVICE_UNAVAILABLE' } }
              : (defaults.formatError?.(formatted, error) ?? formatted),
          plugins,
        }),
      context: () => Promise.resolve(definition.createContext(services)),
      readiness: {
        // On the background pool: probes must not count as request queries in the metrics.
        postgres: async () => {
          await backgroundDb.raw('select 1');
        },
        ...(config.redisUrl ? { redis: () => cache.ping() } : {}),
      },
      subgraphSecret: config.subgraphSecret,
      landingPage: subgraphLandingPage(name),
      // Answers carry the version they were computed from (the gateway keys its own cache by it), and a
      // repeated request of one version costs a lookup, not an execution.
      dataVersion: version,
      ...(config.responseCacheTtlMs > 0
        ? { responseCache: { ttlMs: config.responseCacheTtlMs, maxBytes: config.responseCacheMaxBytes, lookups: RESPONSE_CACHE_REQUESTS } }
        : {}),
      onClose: async () => {
        await version.close();
        await cache.close();
        await Promise.all([db.destroy(), backgroundDb.destroy()]);
        await database.stop();
      },
    },
    { port: config.port, host: config.host, metricsPort: config.metricsPort },
  );
  logger.info({ url: service.url }, `${name} subgraph ready`);
  return service;
}
