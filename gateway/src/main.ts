import { createLogger } from '@cryptoagg/core';
import { stopOnSignals } from '@cryptoagg/http';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './server.js';

const config = loadGatewayConfig();
const logger = createLogger('gateway', config.logLevel);
stopOnSignals(await startGateway(config, logger), logger);
