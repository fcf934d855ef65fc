export { apolloDefaults, type ApolloDefaults } from './apollo.js';
export { startService, stopOnSignals, type RunningService, type ServiceOptions } from './service.js';
export { KNOWN_OPERATIONS, operationLabel, outcomeOf, requestMetrics } from './metrics.js';
