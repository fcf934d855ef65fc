import { createLogger, env, loadConfig, requiredInProduction } from '@cryptoagg/core';
import { z } from 'zod';
import { createDb } from '../knex.js';
import { migrateLatest, migrateRollback, migrateRollbackAll } from '../migrations.js';
import { resolveDatabase } from '../resolve.js';

const config = loadConfig(
  z
    .object({
      DATABASE_URL: env.databaseUrl.optional(),
      LOG_LEVEL: env.logLevel,
      NODE_ENV: env.nodeEnv,
    })
    .refine(...requiredInProduction.DATABASE_URL),
);
const logger = createLogger('migrate', config.LOG_LEVEL);

const USAGE = 'use "latest" (the default), "rollback" (the last batch) or "rollback --all"';
type Direction = 'latest' | 'rollback' | 'rollback --all';
const command = process.argv.slice(2).join(' ') || 'latest';
if (command !== 'latest' && command !== 'rollback' && command !== 'rollback --all') {
  logger.error(`unknown arguments "${command.slice(0, 64)}": ${USAGE}`);
  process.exit(1);
}
const direction: Direction = command;
// Dropping every table is a development convenience; against production it would destroy the whole history.
if (direction === 'rollback --all' && config.NODE_ENV === 'production') {
  logger.error('refusing "rollback --all" with NODE_ENV=production: it drops every table; roll back one batch at a time instead');
  process.exit(1);
}

const server = await resolveDatabase(config.DATABASE_URL, (line) => logger.debug({ postgres: line.trim() }));
const db = createDb({ url: server.url, poolMax: 1, applicationName: 'cryptoagg-migrate' });
try {
  const run = { latest: migrateLatest, rollback: migrateRollback, 'rollback --all': migrateRollbackAll }[direction];
  const names = await run(db);
  const nothing = direction === 'latest' ? 'database is up to date' : 'nothing to roll back';
  logger.info({ direction, migrations: names }, names.length ? `${direction}: ${names.join(', ')}` : nothing);
} catch (error) {
  logger.error({ err: error }, 'migration failed');
  process.exitCode = 1;
} finally {
  await db.destroy();
  await server.stop();
}
