export { createTestDatabase, type TestDatabase } from './database.js';
export { freePort } from './ports.js';
export { runScript, startScript, type ProcessResult, type RunningProcess } from './processes.js';
export { pings, startRedisServer, type RedisServer } from './redis.js';
