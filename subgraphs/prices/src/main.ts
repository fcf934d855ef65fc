import { createLogger } from '@cryptoagg/core';
import { stopOnSignals } from '@cryptoagg/http';
import { loadPricesConfig } from './config.js';
import { startPricesSubgraph } from './server.js';

const config = loadPricesConfig();
const logger = createLogger(config.name, config.logLevel);
stopOnSignals(await startPricesSubgraph(config, logger), logger);
