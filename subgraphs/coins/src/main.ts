import { createLogger } from '@cryptoagg/core';
import { stopOnSignals } from '@cryptoagg/http';
import { loadCoinsConfig } from './config.js';
import { startCoinsSubgraph } from './server.js';

const config = loadCoinsConfig();
const logger = createLogger(config.name, config.logLevel);
stopOnSignals(await startCoinsSubgraph(config, logger), logger);
