import { coinsConfigSchema } from './config.js';
import { startCoinsSubgraph } from './server.js';

export { coinsConfigSchema, loadCoinsConfig, type CoinsConfig } from './config.js';
export { startCoinsSubgraph } from './server.js';

/** What the test kit starts in-process: the manifest (schema/subgraphs.yaml) names this module. */
export const service = { configSchema: coinsConfigSchema, start: startCoinsSubgraph };
