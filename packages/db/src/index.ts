export { createDb, type DbOptions, type Knex } from './knex.js';
export { migrateLatest, migrateRollback, migrateRollbackAll, migrationConfig } from './migrations.js';
export { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';
export { resolveDatabase, EMBEDDED_PORT } from './resolve.js';
export * from './tables.js';
export { lastFetchedAt } from './freshness.js';
export { isDatabaseUnavailable } from './errors.js';
