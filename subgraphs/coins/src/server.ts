import type { Logger } from '@cryptoagg/core';
import { startSubgraph } from '@cryptoagg/graphql';
import type { CoinsConfig } from './config.js';
import { createContext } from './context.js';
import { resolvers } from './resolvers/index.js';

export const startCoinsSubgraph = (config: CoinsConfig, logger?: Logger) => startSubgraph({ config, resolvers, createContext, ...(logger ? { logger } : {}) });
