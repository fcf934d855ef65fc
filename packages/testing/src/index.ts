export { createTestDatabase, type TestDatabase } from './database.js';
export { freePort } from './ports.js';
export { runScript, type ProcessResult } from './processes.js';
