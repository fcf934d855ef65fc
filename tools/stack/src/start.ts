import { createLogger, subgraphs } from '@cryptoagg/core';
import { createDb, migrateLatest, resolveDatabase } from '@cryptoagg/db';
import { Cron } from 'croner';
import { config, inheritedEnvironment, localSubgraphUrls } from './config.js';
import { FETCHER_MAIN, GATEWAY_MAIN } from './entry-points.js';
import { prettyDestination, Supervisor } from './supervisor.js';

/**
 * `npm start`: the whole system on one machine, each part in its own process
 * as in Kubernetes: migrations, then the subgraphs of the manifest
 * (schema/subgraphs.yaml), the gateway, and the fetcher on its schedule (first
 * run at start-up). With no DATABASE_URL an embedded PostgreSQL keeps its data
 * under .data/. Ctrl-C or SIGTERM stops everything.
 */
const GRACE_MS = 10_000;
const logger = createLogger('start', config.LOG_LEVEL, prettyDestination());

const database = await resolveDatabase(config.DATABASE_URL, (line) => logger.debug({ postgres: line.trim() }));
if (!config.DATABASE_URL) logger.info('using the embedded PostgreSQL in .data/postgres');
const migrator = createDb({ url: database.url, poolMax: 1, applicationName: 'cryptoagg-migrate' });
try {
  const applied = await migrateLatest(migrator);
  logger.info({ migrations: applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
} finally {
  await migrator.destroy();
}

const env = {
  // The gateway finds the subgraphs on this machine unless told otherwise.
  ...localSubgraphUrls(),
  ...inheritedEnvironment(),
  DATABASE_URL: database.url,
  MIGRATE_ON_START: 'false',
};
const supervisor = new Supervisor(logger);

for (const { name, main } of subgraphs()) supervisor.service({ name, entry: main, env });
supervisor.service({ name: 'gateway', entry: GATEWAY_MAIN, env });

const fetchJob = new Cron(config.FETCH_SCHEDULE, { protect: true }, async () => {
  const code = await supervisor.job({ name: 'fetcher', entry: FETCHER_MAIN, env });
  if (code !== 0 && code !== null) logger.warn(`fetch run failed (exit ${code}); the API keeps serving the stored data`);
});
void fetchJob.trigger();
logger.info(`fetcher scheduled: ${config.FETCH_SCHEDULE} (next run ${fetchJob.nextRun()?.toISOString() ?? 'never'})`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info(`${signal}: stopping every process`);
  fetchJob.stop();
  await supervisor.stop(GRACE_MS);
  await database.stop();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
