export { apolloDefaults, type ApolloDefaults } from './apollo.js';
export { startService, stopOnSignals, type RunningService, type ServiceOptions } from './service.js';
export { operationLabel, operationNames, outcomeOf, requestMetrics } from './metrics.js';
export { DATA_VERSION_HEADER, parseDataVersion, reportAnswerVersion, type DataVersionSource } from './response-cache.js';
