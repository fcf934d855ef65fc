export { coinsConfigSchema, loadCoinsConfig, type CoinsConfig } from './config.js';
export { startCoinsSubgraph } from './server.js';
