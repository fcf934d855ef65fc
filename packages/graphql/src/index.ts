export { badInput } from './errors.js';
export { DateTimeScalar } from './scalars.js';
export { MAX_PAGE_SIZE, pageSize, parseDateTime, quoteCurrency } from './args.js';
export { afterPosition, decodeCursor, encodeCursor, type Position } from './cursor.js';
export { trackDataVersion, type DataVersion } from './version.js';
export { requireSecretInProduction, subgraphConfig, subgraphEnvSchema, type SubgraphConfig } from './config.js';
export { batchSizeHistogram, instrumentDb, registerFreshnessGauge } from './metrics.js';
export { DATA_STORE_UNAVAILABLE, startSubgraph, subgraphSdl, type SubgraphDefinition, type SubgraphServices } from './subgraph.js';
