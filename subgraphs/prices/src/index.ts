import { pricesConfigSchema } from './config.js';
import { startPricesSubgraph } from './server.js';

export { loadPricesConfig, pricesConfigSchema, type PricesConfig } from './config.js';
export { startPricesSubgraph } from './server.js';

/** What the test kit starts in-process: the manifest (schema/subgraphs.yaml) names this module. */
export const service = { configSchema: pricesConfigSchema, start: startPricesSubgraph };
