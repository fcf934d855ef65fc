import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { DOCS_SITE_DIR, readContractOperations, SUBGRAPH_SECRET_HEADER, SUPERGRAPH_PATH, type Logger } from '@cryptoagg/core';
import { apolloDefaults, operationNames, reportAnswerVersion, startService, type RunningService } from '@cryptoagg/http';
import { histogram, SUBGRAPH_REQUEST_DURATION } from '@cryptoagg/metrics';
import { Registry } from 'prom-client';
import { resolvingSubgraph } from './compose.js';
import type { GatewayConfig } from './config.js';
import { SubgraphDataSource, type GatewayContext } from './datasource.js';
import { idePage } from './ide.js';
import { documentLimits } from './limits.js';
import { fetchFreshness, registerGatewayMetrics } from './metrics.js';
import { followDataVersion } from './version.js';

const secretHeaders = (secret: string | undefined): Record<string, string> => (secret ? { [SUBGRAPH_SECRET_HEADER]: secret } : {});

async function answers(url: string, secret: string | undefined): Promise<boolean> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...secretHeaders(secret) },
    body: JSON.stringify({ query: '{ __typename }' }),
    signal: AbortSignal.timeout(2_000),
  });
  return response.ok;
}

/**
 * The gateway: @apollo/gateway on the statically composed supergraph
 * (gateway/supergraph.graphql, `npm run compose`), sending each subgraph the
 * shared secret, with document limits (tokens, depth, aliases, directives, worst-case size) checked before execution.
 */
export async function startGateway(config: GatewayConfig, logger: Logger, options: { docsDir?: string } = {}): Promise<RunningService> {
  // The HTML schema reference built by `npm run docs`, served at /docs when present.
  const docsDir = options.docsDir ?? DOCS_SITE_DIR;
  if (!existsSync(path.join(docsDir, 'index.html'))) logger.info({ docsDir }, 'schema docs not built (npm run docs): /docs answers 404');
  const registry = new Registry();
  const fetchDuration = histogram(registry, SUBGRAPH_REQUEST_DURATION);
  const supergraphSdl = readFileSync(SUPERGRAPH_PATH, 'utf8');
  // Freshness comes from the subgraph that answers fetchStatus, whichever the supergraph says that is.
  const statusUrl = config.subgraphUrls.get(resolvingSubgraph(supergraphSdl, 'Query', 'fetchStatus') ?? '');
  registerGatewayMetrics(registry, () => (statusUrl ? fetchFreshness(statusUrl, secretHeaders(config.subgraphSecret)) : Promise.resolve(null)));
  const limits = documentLimits(supergraphSdl);
  // Answers are kept until the data version changes: from Redis (the fetcher publishes it) and from the subgraphs.
  const version = followDataVersion({
    redisUrl: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    subgraphUrls: [...config.subgraphUrls.values()],
    subgraphSecret: config.subgraphSecret,
    logger,
  });
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new SubgraphDataSource({ name, url: config.subgraphUrls.get(name) ?? url ?? '', secret: config.subgraphSecret, version }, fetchDuration),
    logger,
  });
  const service = await startService<GatewayContext>(
    {
      name: 'gateway',
      logger,
      registry,
      // The contract's operations are counted by name in the request metrics, any other as "other".
      operations: operationNames(readContractOperations()),
      buildApollo: (plugins) =>
        new ApolloServer<GatewayContext>({
          gateway,
          ...apolloDefaults({ production: config.production, introspection: config.introspection }),
          parseOptions: limits.parseOptions,
          validationRules: limits.validationRules,
          plugins: [...plugins, ...limits.plugins],
        }),
      // Each subgraph fetch reports the version it was computed from: the response cache keeps only answers of the newest.
      context: ({ req }) => Promise.resolve({ reportVersion: (reported: number) => reportAnswerVersion(req, reported) }),
      dataVersion: version,
      readiness: {
        ...Object.fromEntries([...config.subgraphUrls].map(([name, url]) => [name, () => answers(url, config.subgraphSecret)])),
        // Reported, but not a reason to stop serving: Kubernetes' probe excludes it (the subgraphs also tell the version).
        ...(config.redisUrl ? { redis: () => version.pingRedis() } : {}),
      },
      extraGraphqlPaths: ['/'],
      // Rendered once: GraphiQL with every script inline (~9 MB), the contract's operations as tabs.
      ...(config.ide ? { landingPage: await idePage(readContractOperations()) } : {}),
      ...(config.responseCacheTtlMs > 0
        ? { responseCache: { ttlMs: config.responseCacheTtlMs, maxBytes: config.responseCacheMaxBytes, maxAnswerBytes: config.responseCacheMaxAnswerBytes } }
        : {}),
      staticRoutes: { '/docs': docsDir },
      onClose: () => version.close(),
    },
    { port: config.port, host: config.host, metricsPort: config.metricsPort },
  ).catch(async (error: unknown) => {
    // Not started (the port taken, ...): the version's connections and timers must not keep the process alive.
    await version.close();
    throw error;
  });
  logger.info({ url: service.url }, 'gateway ready');
  return service;
}
