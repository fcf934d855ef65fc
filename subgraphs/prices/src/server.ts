import type { Logger } from '@cryptoagg/core';
import { startSubgraph } from '@cryptoagg/graphql';
import type { PricesConfig } from './config.js';
import { createContext } from './context.js';
import { registerFetchRunMetrics } from './metrics.js';
import { registerSourceMetrics } from './source-metrics.js';
import { resolvers } from './resolvers/index.js';

export const startPricesSubgraph = (config: PricesConfig, logger?: Logger) =>
  startSubgraph({
    config,
    resolvers,
    createContext: (services) => createContext(services, config.currencies, config.consensus),
    registerMetrics: ({ registry, backgroundDb }) => {
      registerFetchRunMetrics(registry, backgroundDb);
      registerSourceMetrics(registry, backgroundDb, { ...config.consensus, currencies: config.currencies });
    },
    ...(logger ? { logger } : {}),
  });
