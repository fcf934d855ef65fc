export { gql, metric, OPERATIONS, type GraphQLResponse } from './client.js';
export { createTestDatabase, type TestDatabase } from './database.js';
export { freePort } from './ports.js';
export { scratchDatabase, serverInfo, startScratchPostgres, type ScratchDatabase, type ScratchPostgres } from './postgres.js';
export { runScript, startScript, type ProcessResult, type RunningProcess } from './processes.js';
export { pings, startRedisServer, type RedisServer } from './redis.js';
export { startServices, SUBGRAPH_SECRET, type Services } from './services.js';
export { startStack, type Stack } from './stack.js';
export { startApi, type Api } from './system.js';
