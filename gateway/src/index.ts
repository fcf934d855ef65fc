export { gatewayConfigSchema, loadGatewayConfig, type GatewayConfig } from './config.js';
export { composeSupergraph, CompositionError } from './compose.js';
export { startGateway } from './server.js';
export { worstCaseItems, MAX_ITEMS } from './limits.js';
