export { loadPricesConfig, pricesConfigSchema, type PricesConfig } from './config.js';
export { startPricesSubgraph } from './server.js';
