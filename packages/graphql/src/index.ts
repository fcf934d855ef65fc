export { badInput, characterCount, quoted } from './errors.js';
export { MAX_ID_LENGTH, possibleId, storableText } from './input.js';
export { DateTimeScalar } from './scalars.js';
export { MAX_PAGE_SIZE, pageSize, parseDateTime, quoteCurrency, textArgument } from './args.js';
export { afterPosition, decodeCursor, encodeCursor, type Position } from './cursor.js';
export { trackDataVersion, type DataVersion } from './version.js';
export { subgraphConfig, subgraphEnvSchema, type SubgraphConfig } from './config.js';
export { DATA_STORE_UNAVAILABLE, startSubgraph, type SubgraphDefinition, type SubgraphServices } from './subgraph.js';
