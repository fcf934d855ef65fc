export { loadConfig, parseConfig, env, requiredInProduction, SUBGRAPH_SECRET_HEADER, type ParsedConfig } from './config.js';
export { createLogger, redactUrls, type Logger } from './logger.js';
export { DATA_DIR, DOCS_SITE_DIR, readContractOperations, REPO_ROOT, SCHEMA_DIR, SUBGRAPH_MANIFEST_PATH, SUPERGRAPH_PATH } from './paths.js';
export { readSdl, readSubgraphManifest, subgraph, subgraphs, type Subgraph } from './subgraphs.js';
