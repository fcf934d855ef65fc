import { createLogger, env, loadConfig } from '@cryptoagg/core';
import { z } from 'zod';
import { createDb } from '../knex.js';
import { migrateLatest, migrateRollbackAll } from '../migrations.js';
import { resolveDatabase } from '../resolve.js';

const config = loadConfig(
  z.object({
    DATABASE_URL: env.databaseUrl.optional(),
    LOG_LEVEL: env.logLevel,
  }),
);
const logger = createLogger('migrate', config.LOG_LEVEL);
const direction = process.argv[2] ?? 'latest';
if (direction !== 'latest' && direction !== 'rollback') {
  logger.error(`unknown argument "${direction}": use "latest" (default) or "rollback"`);
  process.exit(1);
}

const server = await resolveDatabase(config.DATABASE_URL, (line) => logger.debug({ postgres: line.trim() }));
const db = createDb({ url: server.url, poolMax: 1, applicationName: 'cryptoagg-migrate' });
try {
  const names = direction === 'latest' ? await migrateLatest(db) : await migrateRollbackAll(db);
  logger.info({ direction, migrations: names }, names.length ? `${direction}: ${names.join(', ')}` : 'database is up to date');
} catch (error) {
  logger.error({ err: error }, 'migration failed');
  process.exitCode = 1;
} finally {
  await db.destroy();
  await server.stop();
}
