import path from 'node:path';
import { createLogger, DATA_DIR, redactUrls, subgraphs } from '@cryptoagg/core';
import { createDb, migrateLatest } from '@cryptoagg/db';
import { Cron } from 'croner';
import { config, inheritedEnvironment, localSubgraphUrls } from './config.js';
import { fakeExchangeUrls } from './fake-exchanges.js';
import { FETCHER_MAIN, GATEWAY_MAIN } from './entry-points.js';
import { embeddedDatabaseMessage } from './progress.js';
import { prettyDestination, Supervisor } from './supervisor.js';

/**
 * `npm start`: the whole system on one machine, each part in its own process
 * as in Kubernetes: migrations, then the subgraphs of the manifest
 * (schema/subgraphs.yaml), the gateway, and the fetcher on its schedule (first
 * run at start-up). With no DATABASE_URL an embedded PostgreSQL keeps its data
 * under .data/. `--watch` (`npm run dev`) restarts a service when a source
 * file it loaded changes.
 *
 * Ctrl-C or SIGTERM drains: every child runs in a process group of its own,
 * so a terminal's signal reaches this process alone, which stops the gateway
 * first (it finishes the requests in flight, up to 10 s), then the subgraphs
 * it was calling, then the fetcher and the embedded PostgreSQL, all within 15 s.
 */
const STOP_BUDGET_MS = 15_000;
/** resolveDatabase's folder for the embedded server (packages/db). */
const EMBEDDED_DATA = path.join(DATA_DIR, 'postgres');

const watch = process.argv.includes('--watch');
const logger = createLogger('start', config.LOG_LEVEL, prettyDestination());
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const supervisor = new Supervisor(logger, { watch });
let fetchJob: Cron | undefined;

let stopping = false;
async function shutdown(signal: string, code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  const startedAt = Date.now();
  const by = (ms: number) => startedAt + ms;
  logger.info(`${signal}: stopping the gateway first (it finishes the requests in flight), then the subgraphs, then the fetcher`);
  fetchJob?.stop();
  await supervisor.stop([
    // The gateway drains its clients for up to 10 s; the subgraphs it calls stay up meanwhile.
    { names: ['gateway'], deadline: by(11_500) },
    { names: subgraphs().map((s) => s.name), deadline: by(13_000) },
    { names: ['fetcher'], deadline: by(13_500) },
    { names: ['postgres'], deadline: by(STOP_BUDGET_MS - 500) },
  ]);
  logger.info(`stopped in ${seconds(startedAt)}`);
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));

/** The database URL: DATABASE_URL, or the embedded PostgreSQL's, kept by a process of its own (postgres.ts). */
async function database(): Promise<string> {
  if (config.DATABASE_URL) {
    logger.info(`using the database at DATABASE_URL (${new URL(config.DATABASE_URL).host})`);
    return config.DATABASE_URL;
  }
  const since = Date.now();
  logger.info(embeddedDatabaseMessage(EMBEDDED_DATA));
  const { url } = await supervisor.keeper<{ url: string }>({ name: 'postgres', entry: 'tools/stack/src/postgres.ts', env: inheritedEnvironment() });
  logger.info(`PostgreSQL ready in ${seconds(since)}`);
  return url;
}

async function migrate(url: string): Promise<void> {
  const since = Date.now();
  const migrator = createDb({ url, poolMax: 1, applicationName: 'cryptoagg-migrate' });
  try {
    const applied = await migrateLatest(migrator);
    logger.info({ migrations: applied }, applied.length ? `applied ${applied.length} migration(s) in ${seconds(since)}` : 'database schema is up to date');
  } finally {
    await migrator.destroy();
  }
}

/** Says where the API is once the gateway answers, so nobody has to guess whether it is up. */
async function announceWhenUp(): Promise<void> {
  const since = Date.now();
  while (!stopping && Date.now() - since < 120_000) {
    const up = await fetch(`http://127.0.0.1:${config.GATEWAY_PORT}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (up) {
      logger.info(`the API is up: http://localhost:${config.GATEWAY_PORT}/graphql (open it in a browser for the GraphQL IDE)`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function start(): Promise<void> {
  const databaseUrl = await database();
  await migrate(databaseUrl);
  if (stopping) return;

  const env = {
    // The gateway finds the subgraphs on this machine unless told otherwise.
    ...localSubgraphUrls(),
    ...inheritedEnvironment(),
    DATABASE_URL: databaseUrl,
    MIGRATE_ON_START: 'false',
  };
  const fakes = await fakeExchangeUrls(env);
  const found = Object.entries(fakes).map(([variable, url]) => `${variable}=${url}`);
  if (found.length > 0) logger.info(`the fake upstream runs fake exchanges: reading them (${found.join(', ')})`);
  Object.assign(env, fakes);
  const services = [...subgraphs().map((s) => s.name), 'gateway'];
  logger.info(
    `starting ${services.join(', ')}${watch ? ' (each restarted when a source file it uses changes)' : ''} and the fetcher (${config.FETCH_SCHEDULE}, first run now)`,
  );
  for (const { name, main } of subgraphs()) supervisor.service({ name, entry: main, env });
  supervisor.service({ name: 'gateway', entry: GATEWAY_MAIN, env });
  void announceWhenUp();

  let runs = 0;
  fetchJob = new Cron(config.FETCH_SCHEDULE, { protect: true }, async () => {
    const first = runs++ === 0;
    const since = Date.now();
    if (first) logger.info('first fetch: market data from the upstream, usually a few seconds (the fetcher logs each step; the API answers meanwhile)');
    const code = await supervisor.job({ name: 'fetcher', entry: FETCHER_MAIN, env });
    if (code === 0 && first) logger.info(`first fetch done in ${seconds(since)}`);
    if (code !== 0 && code !== null) logger.warn(`fetch run failed (exit ${code}); the API keeps serving the stored data`);
  });
  void fetchJob.trigger();
  logger.debug(`next scheduled fetch: ${fetchJob.nextRun()?.toISOString() ?? 'never'}`);
}

start().catch((error: unknown) => {
  // A signal during start-up stops what has started; whatever fails after that is part of stopping.
  if (stopping) return;
  logger.error({ error: redactUrls(error instanceof Error ? error.message : String(error)) }, 'start-up failed');
  void shutdown('start-up failed', 1);
});
